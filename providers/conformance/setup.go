package conformance

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// What every provider's tests set up the same way. A provider's TestMain starts the control
// plane with its data plane's CRDs, found by the harness:
//
//	func TestMain(m *testing.M) {
//		os.Exit(harness.Main(m, &cp, harness.Options{CRDDirectories: conformance.MustCRDs(harness.IstioCRDs())}))
//	}

// MustCRDs is the CRD file or folder a harness function found, as the list the harness's
// options take, for a TestMain. When there is none it ends the test binary, saying why.
func MustCRDs(path string, err error) []string {
	return MustCRDFiles([]string{path}, err)
}

// MustCRDFiles is MustCRDs for a list of folders or files.
func MustCRDFiles(paths []string, err error) []string {
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the CRDs of the data plane:", err)
		os.Exit(1)
	}
	return paths
}

// NewRollout is a Rollout named name in namespace, rolling out the Deployment target behind
// the Service port, through provider: what a provider's tests start from. It is not created.
func NewRollout(namespace, name, target string, port int32, provider trancheapi.Provider) *trancheapi.Rollout {
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: "Deployment", Name: target},
			Service:   trancheapi.ServiceSpec{Port: port},
			Provider:  provider,
		},
	}
}

// Start creates the Rollout and its Services (see Create), and returns the Router factory
// makes, reconciled once: the routing objects exist and send everything to the primary.
func Start(t *testing.T, c client.Client, ro *trancheapi.Rollout, factory providers.Factory) providers.Router {
	t.Helper()
	Create(t, c, ro)
	router := factory(c)
	require.NoError(t, router.Reconcile(t.Context(), ro), "Reconcile")
	return router
}

// Get reads obj again, by its namespace and name, failing the test when it cannot.
func Get(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	require.NoError(t, c.Get(t.Context(), client.ObjectKeyFromObject(obj), obj), "reading %T %s", obj, client.ObjectKeyFromObject(obj))
}

// WithPorts is newRollout's Rollout with ports beside its port (spec.service.ports): a
// provider that splits several ports runs the suite on it.
func WithPorts(newRollout func(t *testing.T) *trancheapi.Rollout, ports ...trancheapi.ServicePort) func(t *testing.T) *trancheapi.Rollout {
	return func(t *testing.T) *trancheapi.Rollout {
		ro := newRollout(t)
		ro.Spec.Service.Ports = append(ro.Spec.Service.Ports, ports...)
		return ro
	}
}
