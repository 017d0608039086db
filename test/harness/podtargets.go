package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PodTargets keeps File, a Prometheus file_sd list (PrometheusOptions.TargetsFile), naming
// the Running pods annotated prometheus.io/scrape: "true", at the port of prometheus.io/port,
// with the labels namespace and pod: the pod discovery a cluster's Prometheus does with its
// Kubernetes service discovery, which Debian's Prometheus is built without. Each pod is
// scraped at its loopback twin (PodTwin), where PodApps runs it.
type PodTargets struct {
	Client client.Client
	File   string
}

// targetGroup is one entry of a file_sd list.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Run writes the list now and whenever the pods change, looking every 200 ms, until ctx is
// done.
func (p *PodTargets) Run(ctx context.Context) {
	var written []byte
	lookEvery(ctx, 200*time.Millisecond, func(ctx context.Context) {
		var pods corev1.PodList
		if err := p.Client.List(ctx, &pods); err != nil {
			return
		}
		list, err := json.Marshal(scrapeTargets(pods.Items))
		if err != nil || bytes.Equal(list, written) {
			return
		}
		// Written whole, then renamed: Prometheus must never read half a list.
		tmp := filepath.Join(filepath.Dir(p.File), "."+filepath.Base(p.File)+".tmp")
		if os.WriteFile(tmp, list, 0o600) == nil && os.Rename(tmp, p.File) == nil {
			written = list
		}
	})
}

// scrapeTargets are the groups of the pods that ask to be scraped and run.
func scrapeTargets(pods []corev1.Pod) []targetGroup {
	groups := []targetGroup{}
	for _, pod := range pods {
		port := pod.Annotations["prometheus.io/port"]
		if pod.Annotations["prometheus.io/scrape"] != "true" || port == "" || pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		twin, err := PodTwin(pod.Status.PodIP)
		if err != nil {
			continue
		}
		groups = append(groups, targetGroup{
			Targets: []string{net.JoinHostPort(twin, port)},
			Labels:  map[string]string{"namespace": pod.Namespace, "pod": pod.Name},
		})
	}
	return groups
}
