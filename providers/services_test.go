package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

func TestDesiredServices(t *testing.T) {
	primarySel := map[string]string{"app": "podinfo-primary"}
	canarySel := map[string]string{"app": "podinfo"}
	named := intstr.FromString("http-alt")
	for _, tc := range []struct {
		name    string
		service trancheapi.ServiceSpec
		want    []corev1.ServicePort
	}{
		{"defaults: port name http, target port = port", trancheapi.ServiceSpec{Port: 80},
			[]corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(80)}}},
		{"named target port", trancheapi.ServiceSpec{Port: 80, TargetPort: &named},
			[]corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: named}}},
		{"numbered target port and port name", trancheapi.ServiceSpec{Port: 443, TargetPort: ptrTo(intstr.FromInt32(8443)), PortName: "https"},
			[]corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(8443)}}},
		{"several ports, in the order given", trancheapi.ServiceSpec{Port: 80, Ports: []trancheapi.ServicePort{
			{Name: "pipe", Port: 9000, Protocol: trancheapi.ProtocolTCP}, {Name: "rpc", Port: 9090, TargetPort: ptrTo(intstr.FromString("grpc"))}}},
			[]corev1.ServicePort{
				{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(80)},
				{Name: "pipe", Protocol: corev1.ProtocolTCP, Port: 9000, TargetPort: intstr.FromInt32(9000)},
				{Name: "rpc", Protocol: corev1.ProtocolTCP, Port: 9090, TargetPort: intstr.FromString("grpc")},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := &trancheapi.Rollout{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "frontend"},
				Spec:       trancheapi.RolloutSpec{TargetRef: trancheapi.TargetRef{Name: "podinfo"}, Service: tc.service},
			}
			apex, primary, canary := providers.DesiredServices(ro, primarySel, canarySel)
			for _, c := range []struct {
				svc            *corev1.Service
				name           string
				wantedSelector map[string]string
			}{
				{apex, "podinfo", primarySel},
				{primary, "podinfo-primary", primarySel},
				{canary, "podinfo-canary", canarySel},
			} {
				assert.Equal(t, "shop", c.svc.Namespace)
				assert.Equal(t, c.name, c.svc.Name)
				assert.Equal(t, map[string]string{"app.kubernetes.io/managed-by": "tranche", "tranche.dev/rollout": "frontend"}, c.svc.Labels)
				assert.Empty(t, c.svc.OwnerReferences)
				assert.Equal(t, corev1.ServiceTypeClusterIP, c.svc.Spec.Type)
				assert.Equal(t, c.wantedSelector, c.svc.Spec.Selector)
				assert.Equal(t, tc.want, c.svc.Spec.Ports)
			}
			// The selectors are copies: the Router changes the apex Service's later.
			apex.Spec.Selector["app"] = "changed"
			assert.Equal(t, "podinfo-primary", primarySel["app"])
			assert.Equal(t, "podinfo-primary", primary.Spec.Selector["app"])
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
