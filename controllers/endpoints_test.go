package controllers

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrlevent "sigs.k8s.io/controller-runtime/pkg/event"
)

func TestReadyEndpoints(t *testing.T) {
	endpoint := func(address, pod string, ready bool) discoveryv1.Endpoint {
		e := discoveryv1.Endpoint{Addresses: []string{address}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
		if pod != "" {
			e.TargetRef = &corev1.ObjectReference{Kind: "Pod", UID: types.UID(pod)}
		}
		return e
	}
	slice := func(endpoints ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{Endpoints: endpoints}
	}
	tests := []struct {
		name   string
		slices []discoveryv1.EndpointSlice
		want   int
	}{
		{"no slice yet", nil, 0},
		{"a slice with no endpoint yet", []discoveryv1.EndpointSlice{slice()}, 0},
		{"ready and unready", []discoveryv1.EndpointSlice{slice(endpoint("10.0.0.1", "a", true), endpoint("10.0.0.2", "b", false))}, 1},
		{"readiness not said is not ready", []discoveryv1.EndpointSlice{{Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}}}, 0},
		{"a pod in an IPv4 and an IPv6 slice counts once", []discoveryv1.EndpointSlice{
			slice(endpoint("10.0.0.1", "a", true)), slice(endpoint("fd00::1", "a", true)),
		}, 1},
		{"endpoints without pods count by address", []discoveryv1.EndpointSlice{
			slice(endpoint("10.0.0.1", "", true), endpoint("10.0.0.2", "", true)), slice(endpoint("10.0.0.1", "", true)),
		}, 2},
		{"slices of one Service add up", []discoveryv1.EndpointSlice{
			slice(endpoint("10.0.0.1", "a", true)), slice(endpoint("10.0.0.2", "b", true)),
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readyEndpoints(tt.slices))
			var cached []discoveryv1.EndpointSlice
			for _, slice := range tt.slices {
				kept, err := readinessOnly(&slice)
				assert.NoError(t, err)
				cached = append(cached, *kept.(*discoveryv1.EndpointSlice))
			}
			assert.Equal(t, tt.want, readyEndpoints(cached), "as the cache keeps the slices")
		})
	}
}

// TestTheCacheKeepsOfASliceItsReadiness: ports, nodes, zones, hints and the rest of each
// pod's reference are not kept; the labels the watch maps to a Rollout are.
func TestTheCacheKeepsOfASliceItsReadiness(t *testing.T) {
	full := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo-canary-x1", ResourceVersion: "7",
			Labels: map[string]string{discoveryv1.LabelServiceName: "podinfo-canary"}, Annotations: map[string]string{"a": "b"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"10.0.0.1", "10.0.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "podinfo-abc", UID: "u1"},
			NodeName:  ptr.To("node-1"), Zone: ptr.To("a"),
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}},
	}
	kept, err := readinessOnly(full)
	assert.NoError(t, err)
	assert.Equal(t, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "podinfo-canary-x1", ResourceVersion: "7",
			Labels: map[string]string{discoveryv1.LabelServiceName: "podinfo-canary"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef: &corev1.ObjectReference{UID: "u1"},
		}},
	}, kept)
}

func TestOnlySliceUpdatesThatChangeReadinessStartAReconcile(t *testing.T) {
	slice := func(ready ...bool) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{}
		for i, r := range ready {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{fmt.Sprintf("10.0.0.%d", i+1)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(r)},
			})
		}
		return s
	}
	terminating := slice(true, true)
	terminating.Endpoints[1].Conditions.Terminating = ptr.To(true)
	update := func(old, new *discoveryv1.EndpointSlice) bool {
		return readyEndpointsChanged.Update(ctrlevent.UpdateEvent{ObjectOld: old, ObjectNew: new})
	}
	assert.True(t, update(slice(true, false), slice(true, true)), "a pod became ready")
	assert.True(t, update(slice(true, true), slice(true)), "a pod went")
	assert.False(t, update(slice(true, false), slice(false, true)), "as many ready as before")
	assert.False(t, update(slice(true, true), terminating), "only a condition other than ready changed")
}
