package stack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/test/harness"
)

func TestRouteWordTimesEachGenerationUntilEveryParentSaysIt(t *testing.T) {
	route := func(gen int64, said ...int64) *gatewayv1.HTTPRoute {
		r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Generation: gen}}
		for _, g := range said {
			r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{Conditions: []metav1.Condition{
				{Type: string(gatewayv1.RouteConditionAccepted), Status: metav1.ConditionTrue, ObservedGeneration: g},
			}})
		}
		return r
	}
	start := time.Now()
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	w := &RouteWord{seen: map[int64]time.Time{}}
	w.observe(route(1, 1), at(0))      // said when first seen
	w.observe(route(2, 1), at(100))    // written
	w.observe(route(2, 2, 1), at(200)) // one parent of two
	w.observe(route(2, 2, 2), at(300))
	w.observe(route(3, 2, 2), at(400))
	w.observe(route(3, 4, 4), at(450)) // past it
	assert.Equal(t, []time.Duration{0, 200 * time.Millisecond, 50 * time.Millisecond}, w.Waits())
	median, longest := harness.MedianAndMax(w.Waits())
	assert.Equal(t, 50*time.Millisecond, median)
	assert.Equal(t, 200*time.Millisecond, longest)
}
