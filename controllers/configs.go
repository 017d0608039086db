package controllers

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The ConfigMaps and Secrets a target's pod template names (in env, envFrom, volumes and
// projected volumes) are part of its revision: a change to one's data starts a canary, as a
// change to the template does. The primary runs on copies of them, named as the original with
// trancheapi.PrimarySuffix, so that the stable version keeps its configuration while the
// canary runs the new one; the copies are written when the primary takes a revision (created
// or promoted), never on a rollback. A ConfigMap or Secret annotated
// trancheapi.AnnotationConfigTracking: disabled is left out: both versions share it as it is.

// secretPollInterval is how often a Rollout whose target uses Secrets reads them again:
// Secrets are got one at a time, never watched, so a change to one is seen within this.
const secretPollInterval = 30 * time.Second

func tracksSecrets(tracked map[configRef]configData) bool {
	for ref := range tracked {
		if ref.secret {
			return true
		}
	}
	return false
}

// configRef names a ConfigMap or a Secret in the target's namespace.
type configRef struct {
	secret bool
	name   string
}

func (c configRef) String() string {
	if c.secret {
		return "Secret/" + c.name
	}
	return "ConfigMap/" + c.name
}

func compareConfigRefs(a, b configRef) int {
	if a.secret != b.secret {
		if a.secret {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.name, b.name)
}

// configRefs lists the ConfigMaps and Secrets a pod spec names, each once, in order.
func configRefs(spec *corev1.PodSpec) []configRef {
	seen := map[configRef]bool{}
	forEachConfigName(spec, func(ref configRef, _ *string) { seen[ref] = true })
	refs := slices.Collect(maps.Keys(seen))
	slices.SortFunc(refs, compareConfigRefs)
	return refs
}

// forEachConfigName calls visit with every place a pod spec names a ConfigMap or a Secret,
// and a pointer to the name there, so that a caller can rewrite it.
func forEachConfigName(spec *corev1.PodSpec, visit func(ref configRef, name *string)) {
	containers := func(cs []corev1.Container) {
		for i := range cs {
			c := &cs[i]
			for j := range c.Env {
				if from := c.Env[j].ValueFrom; from != nil {
					if r := from.ConfigMapKeyRef; r != nil {
						visit(configRef{name: r.Name}, &r.Name)
					}
					if r := from.SecretKeyRef; r != nil {
						visit(configRef{secret: true, name: r.Name}, &r.Name)
					}
				}
			}
			for j := range c.EnvFrom {
				if r := c.EnvFrom[j].ConfigMapRef; r != nil {
					visit(configRef{name: r.Name}, &r.Name)
				}
				if r := c.EnvFrom[j].SecretRef; r != nil {
					visit(configRef{secret: true, name: r.Name}, &r.Name)
				}
			}
		}
	}
	containers(spec.InitContainers)
	containers(spec.Containers)
	for i := range spec.Volumes {
		v := &spec.Volumes[i].VolumeSource
		if v.ConfigMap != nil {
			visit(configRef{name: v.ConfigMap.Name}, &v.ConfigMap.Name)
		}
		if v.Secret != nil {
			visit(configRef{secret: true, name: v.Secret.SecretName}, &v.Secret.SecretName)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				src := &v.Projected.Sources[j]
				if src.ConfigMap != nil {
					visit(configRef{name: src.ConfigMap.Name}, &src.ConfigMap.Name)
				}
				if src.Secret != nil {
					visit(configRef{secret: true, name: src.Secret.Name}, &src.Secret.Name)
				}
			}
		}
	}
}

// configData is what of a tracked ConfigMap or Secret the revision covers: its data, by key
// (a ConfigMap's data and binaryData together; keys cannot repeat across the two).
type configData map[string][]byte

// revisionOf is a target's revision: its template's, and with tracked configuration, a hash
// of that and of every tracked object's data. A target that names none keeps the revision
// of its template alone, as before configuration was tracked.
func revisionOf(template corev1.PodTemplateSpec, tracked map[configRef]configData) string {
	rev := trancheapi.TemplateRevision(template)
	if len(tracked) == 0 {
		return rev
	}
	h := fnv.New64a()
	write := func(s []byte) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s))) // length first: no two inputs hash alike
		_, _ = h.Write(s)
	}
	write([]byte(rev))
	refs := slices.SortedFunc(maps.Keys(tracked), compareConfigRefs)
	for _, ref := range refs {
		write([]byte(ref.String()))
		data := tracked[ref]
		for _, key := range slices.Sorted(maps.Keys(data)) {
			write([]byte(key))
			write(data[key])
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())[:10]
}

// withPrimaryConfigs makes a pod spec name the primary's copies of the tracked ConfigMaps and
// Secrets.
func withPrimaryConfigs(spec *corev1.PodSpec, tracked map[configRef]configData) {
	forEachConfigName(spec, func(ref configRef, name *string) {
		if _, ok := tracked[ref]; ok {
			*name = ref.name + trancheapi.PrimarySuffix
		}
	})
}

// trackedConfigs reads the ConfigMaps and Secrets a target's pods name, leaving out those
// opted out, service account tokens (the API server writes those) and those that do not
// exist: a pod that needs a missing one does not start, which the canary's readiness
// catches, and an optional one is simply absent. With NoSecretCopies, Secrets are neither
// read nor tracked. objects holds what was read, for the copies.
func (r *RolloutReconciler) trackedConfigs(ctx context.Context, target client.Object) (tracked map[configRef]configData, objects []client.Object, err error) {
	for _, ref := range configRefs(&podTemplate(target).Spec) {
		if ref.secret && r.NoSecretCopies {
			continue
		}
		obj, data, err := r.readConfig(ctx, target.GetNamespace(), ref)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("reading %s, which the target's pods use: %w", ref, err)
		case obj.GetAnnotations()[trancheapi.AnnotationConfigTracking] == trancheapi.ConfigTrackingDisabled:
			continue
		}
		if tracked == nil {
			tracked = map[configRef]configData{}
		}
		tracked[ref] = data
		objects = append(objects, obj)
	}
	return tracked, objects, nil
}

func (r *RolloutReconciler) readConfig(ctx context.Context, namespace string, ref configRef) (client.Object, configData, error) {
	key := types.NamespacedName{Namespace: namespace, Name: ref.name}
	reader := r.uncached
	if reader == nil {
		reader = r.Client
	}
	if ref.secret {
		s := &corev1.Secret{}
		if err := reader.Get(ctx, key, s); err != nil {
			return nil, nil, err
		}
		if s.Type == corev1.SecretTypeServiceAccountToken {
			return nil, nil, apierrors.NewNotFound(corev1.Resource("secrets"), ref.name) // not ours to copy
		}
		return s, configData(s.Data), nil
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, key, cm); err != nil {
		return nil, nil, err
	}
	data := configData{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return cm, data, nil
}

// primaryConfig is the primary's copy of a tracked ConfigMap or Secret: its data under the
// primary's name, owned by the Rollout.
func primaryConfig(ro *trancheapi.Rollout, obj client.Object) client.Object {
	meta := metav1.ObjectMeta{
		Namespace: ro.Namespace, Name: obj.GetName() + trancheapi.PrimarySuffix,
		Labels: providers.Labels(ro), Annotations: providers.Annotations(),
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		return &corev1.Secret{ObjectMeta: meta, Type: o.Type, Data: o.Data}
	case *corev1.ConfigMap:
		return &corev1.ConfigMap{ObjectMeta: meta, Data: o.Data, BinaryData: o.BinaryData}
	}
	panic(fmt.Sprintf("primaryConfig: %T is neither a ConfigMap nor a Secret", obj))
}

// writePrimaryConfigs creates or updates the primary's copies of the tracked configuration,
// before the primary takes the revision that uses it.
func (r *RolloutReconciler) writePrimaryConfigs(ctx context.Context, ro *trancheapi.Rollout, objects []client.Object) error {
	for _, obj := range objects {
		want := primaryConfig(ro, obj)
		if err := controllerutil.SetControllerReference(ro, want, r.Scheme()); err != nil {
			return err
		}
		var err error
		switch w := want.(type) {
		case *corev1.Secret:
			_, err = providers.Update(ctx, r.Client, client.ObjectKeyFromObject(w), func(s *corev1.Secret) error {
				if !metav1.IsControlledBy(s, ro) {
					return notOurs(s, "Secret", obj.GetName())
				}
				s.Data, s.Labels = w.Data, w.Labels
				return nil
			})
		case *corev1.ConfigMap:
			_, err = providers.Update(ctx, r.Client, client.ObjectKeyFromObject(w), func(cm *corev1.ConfigMap) error {
				if !metav1.IsControlledBy(cm, ro) {
					return notOurs(cm, "ConfigMap", obj.GetName())
				}
				cm.Data, cm.BinaryData, cm.Labels = w.Data, w.BinaryData, w.Labels
				return nil
			})
		}
		if apierrors.IsNotFound(err) {
			err = r.Create(ctx, want)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// notOurs is the error for a copy's name taken by an object the Rollout does not control:
// the user's, or the copy another Rollout whose target uses the same original keeps.
func notOurs(copied client.Object, kind, original string) error {
	optOut := fmt.Sprintf("annotate %q with %s: %s", original, trancheapi.AnnotationConfigTracking, trancheapi.ConfigTrackingDisabled)
	if owner := metav1.GetControllerOf(copied); owner != nil && owner.Kind == "Rollout" {
		return specError{fmt.Errorf("%s %q is the primary's copy for the Rollout %q, whose target uses %q too: a %s two Rollouts track cannot have one copy for both; give each target its own, or %s",
			kind, copied.GetName(), owner.Name, original, kind, optOut)}
	}
	return specError{fmt.Errorf("%s %q exists and is not Tranche's: Tranche gives the primary a copy of %q under that name; rename or delete it, or %s",
		kind, copied.GetName(), original, optOut)}
}
