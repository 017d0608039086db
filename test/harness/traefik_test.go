package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tranche-dev/tranche/test/harness"
)

var cp *harness.ControlPlane

// TestMain starts a control plane with the Gateway API CRDs, which Traefik needs installed
// before it starts, and a loopback service CIDR: the API server refuses loopback addresses in
// EndpointSlices, so the test backends are reached at their Services' ClusterIPs instead.
func TestMain(m *testing.M) {
	crds, err := harness.GatewayAPICRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, &cp, harness.Options{
		CRDDirectories: crds,
		APIServerArgs:  map[string]string{"service-cluster-ip-range": "127.0.0.0/28"},
		Workloads:      &harness.WorkloadOptions{},
	}))
}

// The ClusterIPs of the two backends' Services, inside the service CIDR above. The backends
// listen on these addresses: Linux routes all of 127.0.0.0/8 to the loopback interface.
const primaryIP, canaryIP = "127.0.0.2", "127.0.0.3"

// TestTraefikRoutesByHTTPRouteWeights sends real requests through a real Traefik reading an
// HTTPRoute from the API server, and checks that they are split by the route's weights, also
// after the weights change. Traefik's weighted round-robin is deterministic, so the counts are
// exact up to where a window starts. It also restarts Traefik.
func TestTraefikRoutesByHTTPRouteWeights(t *testing.T) {
	_, err := harness.FindTraefik()
	require.NoError(t, err, "make test builds Traefik first")
	primaryPort, canaryPort := startBackend(t, primaryIP, "primary"), startBackend(t, canaryIP, "canary")
	traefik := startTraefik(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := cp.Namespace(t)
	createService(ctx, t, ns, "primary", primaryIP, primaryPort)
	createService(ctx, t, ns, "canary", canaryIP, canaryPort)
	createGateway(ctx, t, ns, traefik.WebPort())
	route := httpRoute(ns, primaryPort, canaryPort)
	create(ctx, t, route)

	start := time.Now()
	waitForWeights(ctx, t, traefik, ns, 95, 5)
	waitForTraffic(ctx, t, traefik)
	t.Logf("route served %s after it was created", time.Since(start).Round(time.Millisecond))
	assertSplit(t, traefik, 400, 380, 20)

	patch := client.MergeFrom(route.DeepCopy())
	route.Spec.Rules[0].BackendRefs[0].Weight = ptr.To[int32](50)
	route.Spec.Rules[0].BackendRefs[1].Weight = ptr.To[int32](50)
	start = time.Now()
	require.NoError(t, cp.Client.Patch(ctx, route, patch))
	waitForWeights(ctx, t, traefik, ns, 50, 50)
	t.Logf("new weights visible in Traefik's API %s after the patch", time.Since(start).Round(time.Millisecond))
	assertSplit(t, traefik, 400, 200, 200)

	assert.GreaterOrEqual(t, canaryRequestsInMetrics(t, traefik, ns), 220.0, "canary requests in %s", traefik.MetricsURL())

	// After a crash Traefik reads the route again from the API server.
	require.NoError(t, traefik.Kill())
	require.NoError(t, traefik.Restart())
	waitForWeights(ctx, t, traefik, ns, 50, 50)
	waitForTraffic(ctx, t, traefik)
}

// startBackend serves body on ip at a free port and returns the port.
func startBackend(t *testing.T, ip, body string) int32 {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		require.FailNowf(t, "no loopback address", "cannot listen on %s (the test needs 127.0.0.2 and 127.0.0.3 on the loopback interface, as Linux has): %v", ip, err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	})}
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
	return int32(l.Addr().(*net.TCPAddr).Port)
}

func startTraefik(t *testing.T) *harness.Traefik {
	t.Helper()
	kubeconfig, err := cp.Kubeconfig(t.TempDir())
	require.NoError(t, err)
	traefik, err := harness.StartTraefik(harness.TraefikOptions{Kubeconfig: kubeconfig})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("traefik's log ends with:\n%s", traefik.LogTail())
		}
		assert.NoError(t, traefik.Stop())
	})
	return traefik
}

// create creates obj and deletes it when the test ends. Deleting the test's namespace is not
// enough: envtest runs no namespace controller, so the objects in it would stay, and with them
// the ClusterIPs of the Services, which the next test needs again.
func create(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, cp.Client.Create(ctx, obj))
	t.Cleanup(func() { _ = cp.Client.Delete(context.Background(), obj) })
}

// createService makes a Service without selector whose ClusterIP is where the backend listens.
// Its port must be the backend's: with nativeLB, Traefik sends to ClusterIP:port.
func createService(ctx context.Context, t *testing.T, ns, name, ip string, port int32) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "http", Port: port}}},
	}
	create(ctx, t, svc)
}

// createGateway makes a GatewayClass for Traefik and a Gateway listening on Traefik's web
// entrypoint, whose port the listener must name.
func createGateway(ctx context.Context, t *testing.T, ns string, port int32) {
	t.Helper()
	class := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "traefik-" + ns},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "traefik.io/gateway-controller"},
	}
	create(ctx, t, class)
	gateway := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gateway"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(class.Name),
			Listeners:        []gatewayv1.Listener{{Name: "web", Port: port, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}
	create(ctx, t, gateway)
}

func httpRoute(ns string, primaryPort, canaryPort int32) *gatewayv1.HTTPRoute {
	backend := func(name string, port, weight int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr.To(port)},
			Weight:                 ptr.To(weight),
		}}
	}
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gateway"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{
				backend("primary", primaryPort, 95), backend("canary", canaryPort, 5),
			}}},
		},
	}
}

// waitForWeights polls Traefik's API until the route's weighted service has the weights of
// the primary and canary Services. Traefik names it …-wrr@kubernetesgateway and its children
// …-svc-<ns>-<service>-<index>.
func waitForWeights(ctx context.Context, t *testing.T, traefik *harness.Traefik, ns string, primary, canary int) {
	t.Helper()
	want := map[string]int{"primary": primary, "canary": canary}
	var got map[string]int
	for ctx.Err() == nil {
		if got = routeWeights(traefik, ns); maps.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Traefik's weights are still %v, want %v", got, want)
}

func routeWeights(traefik *harness.Traefik, ns string) map[string]int {
	resp, err := http.Get(traefik.APIURL() + "/api/http/services")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var services []struct {
		Name     string
		Weighted *struct {
			Services []struct {
				Name   string
				Weight *int
			}
		}
	}
	if json.NewDecoder(resp.Body).Decode(&services) != nil {
		return nil
	}
	weights := map[string]int{}
	for _, s := range services {
		if s.Weighted == nil || !strings.HasPrefix(s.Name, "httproute-"+ns+"-app-") {
			continue
		}
		for _, child := range s.Weighted.Services {
			for _, name := range []string{"primary", "canary"} {
				if strings.Contains(child.Name, "-svc-"+ns+"-"+name+"-") && child.Weight != nil {
					weights[name] = *child.Weight
				}
			}
		}
	}
	return weights
}

// waitForTraffic waits until a request through Traefik reaches a backend.
func waitForTraffic(ctx context.Context, t *testing.T, traefik *harness.Traefik) {
	t.Helper()
	var last string
	for ctx.Err() == nil {
		body, code, err := get(traefik.WebURL())
		if err == nil && code == http.StatusOK {
			return
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request through Traefik reached a backend; the last answer: %s", last)
}

// assertSplit sends n requests one after the other and checks which backend answered.
func assertSplit(t *testing.T, traefik *harness.Traefik, n, primary, canary int) {
	t.Helper()
	counts := map[string]int{}
	for range n {
		body, code, err := get(traefik.WebURL())
		require.NoError(t, err)
		counts[strconv.Itoa(code)+" "+body]++
	}
	t.Logf("%d requests: %v", n, counts)
	assert.InDelta(t, primary, counts["200 primary"], 3, "requests to the primary")
	assert.InDelta(t, canary, counts["200 canary"], 3, "requests to the canary")
	assert.Equal(t, n, counts["200 primary"]+counts["200 canary"], "every request reached a backend")
}

func get(url string) (string, int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode, err
}

// canaryRequestsInMetrics sums traefik_service_requests_total over the canary's series.
func canaryRequestsInMetrics(t *testing.T, traefik *harness.Traefik, ns string) float64 {
	t.Helper()
	body, code, err := get(traefik.MetricsURL())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "traefik_service_requests_total{") &&
			strings.Contains(line, "-svc-"+ns+"-canary-") && strings.Contains(line, `code="200"`) {
			value, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			require.NoError(t, err, line)
			sum += value
		}
	}
	return sum
}
