package istio

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// statusWord is where istiod says it took a VirtualService, when it writes status at all.
const statusWord = "VirtualService status (Reconciled), where istiod writes it (Istio 1.31's does not: there its routing objects read back)"

// Acceptance reads the VirtualService's status, where istiod releases that tracked the
// distribution of configuration to the proxies (the PILOT_ENABLE_STATUS feature) wrote the
// Reconciled condition. Istio has since removed that tracking: the istiod of the tests
// (1.31) writes no status on a VirtualService (with PILOT_ENABLE_ANALYSIS it writes the
// analyzers' messages, which say nothing of the proxies), so there the word is Unreported
// and a split counts once it reads back.
func (r *Router) Acceptance(ctx context.Context, ro *trancheapi.Rollout) (traffic.Acceptance, error) {
	vs := providers.NewUnstructured(VirtualService, ro.Namespace, ro.Name)
	if err := r.c.Get(ctx, client.ObjectKeyFromObject(vs), vs); err != nil {
		return traffic.Acceptance{}, err
	}
	return acceptanceOf(vs), nil
}

// acceptanceOf is istiod's word on the VirtualService as it is now: its Reconciled condition,
// False while the configuration is still on its way to the proxies and True once every proxy
// has it. The word counts only when status.observedGeneration is the object's generation.
// One that is behind, or a status without that condition, is not read as "still on its way":
// istiod's status is experimental and its observedGeneration has been seen not to follow
// spec changes (istio/istio#31931), and a Rollout must not wait for a word that never comes.
// Then istiod says nothing, and the split counts once it reads back. Istio refuses nothing
// here: a VirtualService it would not take is refused by its admission webhook.
func acceptanceOf(vs *unstructured.Unstructured) traffic.Acceptance {
	status := providers.Fields(vs).Get("status")
	if generation, ok := observedGeneration(status); !ok || generation != vs.GetGeneration() {
		return traffic.Acceptance{State: traffic.Unreported}
	}
	conditions, _, err := status.Get("conditions").AsList()
	if err != nil {
		return traffic.Acceptance{State: traffic.Unreported}
	}
	for _, c := range conditions {
		kind, _, _ := c.Get("type").AsString()
		if kind != "Reconciled" {
			continue
		}
		switch value, _, _ := c.Get("status").AsString(); value {
		case "True":
			return traffic.Acceptance{State: traffic.Accepted}
		case "False", "Unknown":
			reason, _, _ := c.Get("reason").AsString()
			message, _, _ := c.Get("message").AsString()
			return traffic.Acceptance{State: traffic.Pending, Parent: "istiod", Reason: reason, Message: message}
		}
	}
	return traffic.Acceptance{State: traffic.Unreported}
}

// observedGeneration reads status.observedGeneration, which istiod writes as JSON's
// protobuf mapping does for 64-bit numbers: a string.
func observedGeneration(status providers.Field) (int64, bool) {
	field := status.Get("observedGeneration")
	if n, ok, err := field.AsInt(); err == nil {
		return n, ok
	}
	s, _, err := field.AsString()
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
