package istio_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/test/harness"
)

// istiodChecked is the istio provider's factory with a client that keeps every Istio object
// the router writes, as the API server returned it; when the test ends, each is checked with
// Istio's own validation (what istiod's admission webhook runs), and any that istiod would
// refuse fails the test. So every VirtualService and DestinationRule the tests have the
// provider write is one a real Istio takes.
func istiodChecked(t *testing.T) providers.Factory {
	var mu sync.Mutex
	var written []*unstructured.Unstructured
	keep := func(obj client.Object) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok || u.GroupVersionKind().Group != istio.VirtualService.Group {
			return
		}
		mu.Lock()
		written = append(written, u.DeepCopy())
		mu.Unlock()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, written, "the router wrote no Istio object")
		verdicts, err := harness.IstioValidate(written)
		require.NoError(t, err)
		for i, v := range verdicts {
			assert.Empty(t, v.Error, "istiod would refuse %s %s: %v", v.Kind, v.Name, written[i].Object["spec"])
		}
	})
	return func(c client.Client) providers.Router {
		return istio.New(interceptor.NewClient(c.(client.WithWatch), interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				err := c.Create(ctx, obj, opts...)
				if err == nil {
					keep(obj)
				}
				return err
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				err := c.Update(ctx, obj, opts...)
				if err == nil {
					keep(obj)
				}
				return err
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				err := c.Patch(ctx, obj, patch, opts...)
				if err == nil {
					keep(obj)
				}
				return err
			},
		}))
	}
}
