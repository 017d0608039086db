package providers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// setRoutesOnly is a Router whose SetRoutes records what it was asked and answers err; the
// rest of the interface is not used by HandBack.
type setRoutesOnly struct {
	providers.Router
	asked []traffic.Routes
	err   error
}

func (r *setRoutesOnly) SetRoutes(_ context.Context, _ *trancheapi.Rollout, routes traffic.Routes) error {
	r.asked = append(r.asked, routes)
	return r.err
}

func TestHandBack(t *testing.T) {
	gone := apierrors.NewNotFound(schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "httproutes"}, "frontend")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"handed back", nil, nil},
		{"no routing object", fmt.Errorf("updating HTTPRoute shop/frontend: %w", gone), nil},
		{"someone else's object", fmt.Errorf("HTTPRoute shop/frontend is %w frontend", providers.ErrNotControlled), nil},
		{"a field of the user's of the wrong type", providers.ErrMalformed, providers.ErrMalformed},
		{"the API server failing", errors.New("connection refused"), errors.New("connection refused")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			router := &setRoutesOnly{err: tc.err}
			err := providers.HandBack(t.Context(), router, &trancheapi.Rollout{})
			assert.Equal(t, []traffic.Routes{{}}, router.asked, "everything to the primary")
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tc.want.Error())
		})
	}
}
