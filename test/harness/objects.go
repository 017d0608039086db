package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadManifests decodes every YAML document of every .yaml file in dir, in file name order,
// except kustomization.yaml.
func ReadManifests(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		fileObjs, err := ReadManifestFile(file)
		if err != nil {
			return nil, err
		}
		objs = append(objs, fileObjs...)
	}
	return objs, nil
}

// ReadManifestFile decodes every YAML document of a file.
func ReadManifestFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// CreateNamespace creates a namespace unless it exists.
func (cp *ControlPlane) CreateNamespace(ctx context.Context, name string) error {
	err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Deployment is a minimal Deployment of one container whose pods carry the label app=name.
func Deployment(namespace, name, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			// Two maps: a test that edits the pod labels must not change the selector.
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// DaemonSet is a DaemonSet of one container whose pods are labelled app=<name>, as
// Deployment makes a Deployment.
func DaemonSet(namespace, name, image string) *appsv1.DaemonSet {
	d := Deployment(namespace, name, image)
	return &appsv1.DaemonSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.DaemonSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template}}
}

// StatefulSet is a StatefulSet of one container and replicas pods labelled app=<name>, as
// Deployment makes a Deployment, each with a claim "data" of its own from the set's volume
// claim template (see StatefulSetVolumes), and a governing Service named <name>-pods.
func StatefulSet(namespace, name, image string, replicas int32) *appsv1.StatefulSet {
	d := Deployment(namespace, name, image)
	d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	return &appsv1.StatefulSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.StatefulSetSpec{
		Replicas: &replicas, Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: name + "-pods",
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}},
	}}
}

// StatefulSetVolumes makes a PersistentVolume for the claim "data" of each of the set's pods,
// bound in advance to the claim the StatefulSet controller will make (data-<set>-<ordinal>),
// as a cluster's provisioner would: the persistent volume binder then binds the claim. The
// volumes are host paths no pod ever mounts (kwok runs no containers).
func StatefulSetVolumes(ctx context.Context, c client.Client, set *appsv1.StatefulSet) error {
	for ordinal := range *set.Spec.Replicas {
		claim := fmt.Sprintf("data-%s-%d", set.Name, ordinal)
		volume := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: set.Namespace + "-" + claim},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Namespace: set.Namespace, Name: claim},
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/nonexistent/" + claim}},
			},
		}
		if err := c.Create(ctx, volume); err != nil {
			return fmt.Errorf("harness: the volume of claim %s/%s: %w", set.Namespace, claim, err)
		}
	}
	return nil
}

// SetImage releases a new version of a Deployment, as a CI pipeline would: a merge patch of
// its image, with no optimistic lock, since controllers write it too.
func SetImage(ctx context.Context, c client.Client, namespace, name, image string) error {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		return err
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Template.Spec.Containers[0].Image = image
	return c.Patch(ctx, d, patch)
}

// Table lists a resource as the API server renders it for kubectl get -o wide: the CRD's
// printer columns, formatted as text.
func (cp *ControlPlane) Table(ctx context.Context, gvr schema.GroupVersionResource, namespace string) (string, error) {
	httpClient, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return "", err
	}
	url := fmt.Sprintf("%s/apis/%s/%s/namespaces/%s/%s", strings.TrimSuffix(cp.Config.Host, "/"), gvr.Group, gvr.Version, namespace, gvr.Resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		return "", err
	}
	var out strings.Builder
	w := tabwriter.NewWriter(&out, 0, 4, 3, ' ', 0)
	headers := make([]string, 0, len(table.ColumnDefinitions))
	for _, c := range table.ColumnDefinitions {
		headers = append(headers, strings.ToUpper(c.Name))
	}
	fmt.Fprintln(w, strings.Join(headers, "\t"))
	for _, row := range table.Rows {
		cells := make([]string, 0, len(row.Cells))
		for _, cell := range row.Cells {
			if cell == nil {
				cell = "<none>"
			}
			cells = append(cells, fmt.Sprint(cell))
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return strings.TrimRight(out.String(), "\n"), nil
}
