package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Prometheus is told of the running pods that ask to be scraped, each at its loopback twin.
func TestScrapeTargetsAreTheRunningPodsThatAskAtTheirTwins(t *testing.T) {
	pod := func(name, ip string, phase corev1.PodPhase, annotations map[string]string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Annotations: annotations},
			Status:     corev1.PodStatus{Phase: phase, PodIP: ip},
		}
	}
	asks := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9899"}
	leaving := pod("leaving", "10.244.1.9", corev1.PodRunning, asks)
	leaving.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	pods := []corev1.Pod{
		pod("runs", "10.244.1.7", corev1.PodRunning, asks),
		pod("pending", "", corev1.PodPending, asks),
		pod("quiet", "10.244.2.3", corev1.PodRunning, nil),
		pod("no-port", "10.244.2.4", corev1.PodRunning, map[string]string{"prometheus.io/scrape": "true"}),
		pod("declines", "10.244.2.5", corev1.PodRunning, map[string]string{"prometheus.io/scrape": "false", "prometheus.io/port": "9899"}),
		leaving,
	}
	assert.Equal(t, []targetGroup{{
		Targets: []string{"127.244.1.7:9899"},
		Labels:  map[string]string{"namespace": "shop", "pod": "runs"},
	}}, scrapeTargets(pods))
	assert.Equal(t, []targetGroup{}, scrapeTargets(nil), "an empty list, not null: Prometheus reads it")
}
