package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestDesiredAppRunsTheSelectedDeploymentsTemplate(t *testing.T) {
	primary := Deployment("ns", "podinfo-primary", "tranche.dev/demoapp:v1")
	canary := Deployment("ns", "podinfo", "tranche.dev/demoapp:v2")
	canary.Spec.Template.Spec.Containers[0].Args = []string{"--error-rate=0.3"}
	scaledDown := canary.DeepCopy()
	scaledDown.Spec.Replicas = ptr.To[int32](0)
	service := func(ip string, selector map[string]string) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{
			ClusterIP: ip, Selector: selector, Ports: []corev1.ServicePort{{Port: 9898}},
		}}
	}
	tests := []struct {
		name        string
		svc         *corev1.Service
		deployments []appsv1.Deployment
		addr        string
		spec        appSpec
		ok          bool
	}{
		{"the canary", service("127.0.10.7", canary.Spec.Template.Labels), []appsv1.Deployment{*primary, *canary},
			"127.0.10.7:9898", appSpec{version: "v2", args: []string{"--error-rate=0.3"}}, true},
		{"the primary", service("127.0.10.8", primary.Spec.Template.Labels), []appsv1.Deployment{*primary, *canary},
			"127.0.10.8:9898", appSpec{version: "v1"}, true},
		{"scaled to zero", service("127.0.10.7", canary.Spec.Template.Labels), []appsv1.Deployment{*scaledDown}, "", appSpec{}, false},
		{"not a loopback ClusterIP", service("10.0.0.7", canary.Spec.Template.Labels), []appsv1.Deployment{*canary}, "", appSpec{}, false},
		{"no selector", service("127.0.10.7", nil), []appsv1.Deployment{*canary}, "", appSpec{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, spec, ok := desiredApp(tt.svc, tt.deployments)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.addr, addr)
			assert.True(t, tt.spec.equal(spec), "%+v", spec)
		})
	}
}

func TestSpecOfReadsTheVersionFromTheImageTag(t *testing.T) {
	for image, version := range map[string]string{
		"tranche.dev/demoapp:v3":     "v3",
		"registry:5000/demoapp":      "latest",
		"registry:5000/demoapp:v1.2": "v1.2",
	} {
		assert.Equal(t, version, specOf(Deployment("ns", "d", image)).version, image)
	}
}
