package harness_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/harness"
)

func TestPodTwin(t *testing.T) {
	twin, err := harness.PodTwin("10.244.2.17")
	require.NoError(t, err)
	require.Equal(t, "127.244.2.17", twin)
	_, err = harness.PodTwin("fd00::1")
	require.Error(t, err)
}

// The proxy sends a Service's connections to the pods the endpointslice controller lists as
// ready, and only to those: neither an unready pod nor one scaled away gets a request,
// although a program listens for each.
func TestServiceProxySendsToReadyEndpointsOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := cp.Namespace(t)
	c := cp.Client
	// Two Deployments behind one Service: two ready pods, and one that never is.
	d := withLabels(deployment(ns, "proxied", 2, ""), map[string]string{"app": "proxied", "variant": "ready"})
	unready := withLabels(deployment(ns, "proxied-unready", 1, harness.PodNeverReady), map[string]string{"app": "proxied", "variant": "unready"})
	require.NoError(t, c.Create(ctx, d))
	require.NoError(t, c.Create(ctx, unready))
	require.NoError(t, c.Create(ctx, selectingService(ns, "proxied", "127.0.0.9", 8080, 9000)))
	pods, readyIPs := endpoints(t, ns, "proxied", 2, 1)
	for ip, pod := range pods {
		twin, err := harness.PodTwin(ip)
		require.NoError(t, err)
		serveName(t, net.JoinHostPort(twin, "9000"), pod)
	}

	go (&harness.ServiceProxy{Client: c, Namespace: ns}).Run(ctx)

	answered := func(want map[string]bool) func() (bool, string) {
		return func() (bool, string) {
			got := map[string]bool{}
			for range 10 {
				if name, err := ask("http://127.0.0.9:8080/"); err == nil {
					got[name] = true
				}
			}
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
		}
	}
	all := map[string]bool{}
	for ip, pod := range pods {
		if readyIPs[ip] {
			all[pod] = true
		}
	}
	require.Len(t, all, 2)
	eventually(t, 10*time.Second, "the two ready pods answer through the ClusterIP, the unready one never", answered(all))

	require.NoError(t, c.Patch(ctx, d, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":1}}`))))
	left, leftReady := endpoints(t, ns, "proxied", 1, 1)
	remaining := map[string]bool{}
	for ip, pod := range left {
		if leftReady[ip] {
			remaining[pod] = true
		}
	}
	eventually(t, 10*time.Second, "only the pod left answers", answered(remaining))
}

// endpoints waits until the Service's slices list ready endpoints and unready ones, and
// returns the pods of all by IP, and which IPs are ready.
func endpoints(t *testing.T, ns, service string, ready, unready int) (map[string]string, map[string]bool) {
	t.Helper()
	var pods map[string]string
	var isReady map[string]bool
	eventually(t, 30*time.Second, fmt.Sprintf("%d ready endpoints and %d unready", ready, unready), func() (bool, string) {
		var slices discoveryv1.EndpointSliceList
		require.NoError(t, cp.Client.List(context.Background(), &slices, client.InNamespace(ns),
			client.MatchingLabels{discoveryv1.LabelServiceName: service}))
		pods, isReady = map[string]string{}, map[string]bool{}
		for _, slice := range slices.Items {
			for _, e := range slice.Endpoints {
				if e.TargetRef != nil {
					pods[e.Addresses[0]] = e.TargetRef.Name
					isReady[e.Addresses[0]] = ptr.Deref(e.Conditions.Ready, false)
				}
			}
		}
		n := 0
		for _, r := range isReady {
			if r {
				n++
			}
		}
		return n == ready && len(pods)-n == unready, fmt.Sprint(pods, isReady)
	})
	return pods, isReady
}

// selectingService is a Service for the pods labelled app: name, at a fixed ClusterIP.
func selectingService(ns, name, clusterIP string, port, targetPort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(targetPort)}},
		},
	}
}

func withLabels(d *appsv1.Deployment, labels map[string]string) *appsv1.Deployment {
	d.Spec.Selector.MatchLabels = map[string]string{"variant": labels["variant"]}
	d.Spec.Template.Labels = labels
	return d
}

// serveName plays a pod: an HTTP server on address answering with the pod's name.
func serveName(t *testing.T, address, name string) {
	t.Helper()
	l, err := net.Listen("tcp", address)
	require.NoError(t, err)
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	})}
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
}

// ask sends one request on a connection of its own, as the proxy balances connections.
func ask(url string) (string, error) {
	return askWith(&http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, url)
}

// With PerRequest, each request goes to a pod the Service selects now: a client that keeps
// its connection alive reaches the pods of a new selector at once, though the pods it reached
// before still run (as Argo Rollouts' stable Service is moved between ReplicaSets). Per
// connection, the proxy would keep sending it to them: what kube-proxy does.
func TestServiceProxyPerRequestFollowsTheSelector(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := cp.Namespace(t)
	c := cp.Client
	blue := withLabels(deployment(ns, "blue", 1, ""), map[string]string{"app": "moved", "variant": "blue"})
	green := withLabels(deployment(ns, "green", 1, ""), map[string]string{"app": "moved", "variant": "green"})
	require.NoError(t, c.Create(ctx, blue))
	require.NoError(t, c.Create(ctx, green))
	svc := selectingService(ns, "moved", "127.0.0.11", 8080, 9000)
	svc.Spec.Selector = map[string]string{"variant": "blue"}
	require.NoError(t, c.Create(ctx, svc))
	eventually(t, 30*time.Second, "both pods run", func() (bool, string) {
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace(ns)))
		n := 0
		for _, pod := range pods.Items {
			if pod.Status.PodIP == "" {
				continue
			}
			twin, err := harness.PodTwin(pod.Status.PodIP)
			require.NoError(t, err)
			serveOnce(t, net.JoinHostPort(twin, "9000"), pod.Labels["variant"])
			n++
		}
		return n == 2, fmt.Sprint(len(pods.Items), " pods, ", n, " with an IP")
	})

	go (&harness.ServiceProxy{Client: c, Namespace: ns, PerRequest: true}).Run(ctx)
	kept := &http.Client{Timeout: time.Second} // keeps its connection alive
	askKept := func(want string) func() (bool, string) {
		return func() (bool, string) {
			got := map[string]int{}
			for range 10 {
				if name, err := askWith(kept, "http://127.0.0.11:8080/"); err == nil {
					got[name]++
				}
			}
			return len(got) == 1 && got[want] == 10, fmt.Sprint(got)
		}
	}
	eventually(t, 10*time.Second, "blue answers", askKept("blue"))
	require.NoError(t, c.Patch(ctx, svc, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"selector":{"variant":"green"}}}`))))
	eventually(t, 10*time.Second, "green answers the same client, blue still running", askKept("green"))
}

// serveOnce is serveName for an address that may be served already (by an earlier look).
func serveOnce(t *testing.T, address, name string) {
	t.Helper()
	if l, err := net.Listen("tcp", address); err == nil {
		_ = l.Close()
		serveName(t, address, name)
	}
}

// askWith sends one request with client.
func askWith(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body)), err
}
