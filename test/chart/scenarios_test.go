package chart

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/istio"
	"github.com/tranche-dev/tranche/test/harness"
)

// exercise has the manager at work in ns do everything a permission of its is for: a release
// through each provider; a target whose pods use a ConfigMap and a Secret (the primary's
// copies), whose data then change; a DaemonSet; an autoscaled target, whose autoscaler then
// changes and is deleted (and the primary's with it); route timeouts, for which the Gateway's
// class is read; a notification provider; a DestinationRule changed by hand and put back; an
// abort at a manual gate; an undo; a Rollout deleted.
func exercise(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	c := cp.Client
	gatewayForTimeouts(t, ns)
	notificationProvider(t, ns)

	rollouts := map[string]*trancheapi.Rollout{}
	for name, provider := range providersOf(t, ns) {
		require.NoError(t, c.Create(ctx, harness.Deployment(ns, name, "app:1")))
		rollouts[name] = rollout(ns, name, "Deployment", provider)
	}
	rollouts["shop"].Spec.Provider.GatewayAPI.Timeouts = &trancheapi.GatewayAPITimeouts{Request: &metav1.Duration{Duration: 10 * time.Second}}
	rollouts["shop"].Spec.Notify = []trancheapi.NotificationRef{{ProviderRef: trancheapi.NamespacedObjectReference{Name: "team"}}}
	rollouts["orders"].Spec.Steps[0].Approval = trancheapi.ApprovalManual // aborted at its gate
	// A gRPC service, through a GRPCRoute.
	require.NoError(t, c.Create(ctx, harness.Deployment(ns, "rpc", "app:1")))
	rollouts["rpc"] = rollout(ns, "rpc", "Deployment", trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "public"}}}})
	rollouts["rpc"].Spec.Service.Protocol = trancheapi.ProtocolGRPC
	// A TCP service, through a TCPRoute.
	require.NoError(t, c.Create(ctx, harness.Deployment(ns, "pipe", "app:1")))
	rollouts["pipe"] = rollout(ns, "pipe", "Deployment", trancheapi.Provider{GatewayAPI: &trancheapi.GatewayAPIProvider{ParentRefs: []trancheapi.ParentReference{{Name: "public"}}}})
	rollouts["pipe"].Spec.Service.Protocol = trancheapi.ProtocolTCP

	require.NoError(t, c.Create(ctx, configured(t, ns, "catalog")))
	rollouts["catalog"] = rollout(ns, "catalog", "Deployment", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}})
	require.NoError(t, c.Create(ctx, harness.DaemonSet(ns, "agent", "app:1")))
	rollouts["agent"] = rollout(ns, "agent", "DaemonSet", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}})
	require.NoError(t, c.Create(ctx, harness.Deployment(ns, "api", "app:1")))
	require.NoError(t, c.Create(ctx, autoscaler(ns, "api")))
	rollouts["api"] = rollout(ns, "api", "Deployment", trancheapi.Provider{Kubernetes: &trancheapi.KubernetesProvider{}})
	for _, ro := range rollouts {
		require.NoError(t, c.Create(ctx, ro))
	}
	waitForPhases(t, slices.Collect(maps.Values(rollouts)), trancheapi.PhaseInitialized)

	var released []*trancheapi.Rollout
	for name, ro := range rollouts {
		if name != "orders" {
			require.NoError(t, setImage(ctx, ns, name, "app:2"))
			released = append(released, ro)
		}
	}
	waitForPhases(t, released, trancheapi.PhaseSucceeded)

	// The abort, at the manual gate of orders' only step. Its DestinationRule was changed by
	// hand meanwhile: the release puts it back.
	drift(t, ns, "orders-primary")
	require.NoError(t, setImage(ctx, ns, "orders", "app:2"))
	waitFor(t, rollouts["orders"], inPhase(trancheapi.PhaseWaitingApproval))
	request(t, rollouts["orders"], trancheapi.AnnotationAbort, "abort-1")
	waitFor(t, rollouts["orders"], inPhase(trancheapi.PhaseAborted))

	// The undo: checkout's primary ran app:1 before app:2.
	request(t, rollouts["checkout"], trancheapi.AnnotationUndo, "undo-1")
	waitFor(t, rollouts["checkout"], inPhase(trancheapi.PhaseAborted))

	// catalog's ConfigMap changes: a new revision, rolled out through the primary's copy.
	before := get(t, rollouts["catalog"]).Status.StableRevision
	cm := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "catalog-config"}, cm))
	cm.Data["greeting"] = "hello again"
	require.NoError(t, c.Update(ctx, cm))
	secret := &corev1.Secret{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "catalog-secret"}, secret))
	secret.Data["key"] = []byte("n3w s3cret")
	require.NoError(t, c.Update(ctx, secret))
	waitFor(t, rollouts["catalog"], func(ro *trancheapi.Rollout) bool {
		return ro.Status.Phase == trancheapi.PhaseSucceeded && ro.Status.StableRevision != before
	})

	// The user's autoscaler changes, and the primary's follows; then it goes, and the
	// primary's with it.
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, hpa))
	hpa.Spec.MaxReplicas = 4
	require.NoError(t, c.Update(ctx, hpa))
	require.Eventually(t, func() bool {
		primary := &autoscalingv2.HorizontalPodAutoscaler{}
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-primary"}, primary) == nil && primary.Spec.MaxReplicas == 4
	}, time.Minute, 200*time.Millisecond, "the primary's autoscaler did not follow the target's")
	require.NoError(t, c.Delete(ctx, autoscaler(ns, "api")))
	require.Eventually(t, func() bool {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-primary"}, &autoscalingv2.HorizontalPodAutoscaler{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 200*time.Millisecond, "the primary's autoscaler outlived the target's")

	// billing's Rollout is deleted: the manager hands the app back and lets it go.
	require.NoError(t, c.Delete(ctx, rollouts["billing"]))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(rollouts["billing"]), &trancheapi.Rollout{}))
	}, time.Minute, 200*time.Millisecond, "the deleted Rollout was never let go")
}

// drift changes the host of the DestinationRule name of ns, as a person might by hand.
func drift(t *testing.T, ns, name string) {
	t.Helper()
	dr := &unstructured.Unstructured{}
	dr.SetGroupVersionKind(istio.DestinationRule)
	require.NoError(t, cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dr))
	patch := client.MergeFrom(dr.DeepCopy())
	require.NoError(t, unstructured.SetNestedField(dr.Object, "elsewhere", "spec", "host"))
	require.NoError(t, cp.Client.Patch(context.Background(), dr, patch))
}

// rollout is a Rollout of one step, 50% (all at once for the Kubernetes provider's
// blue/green), held a second.
func rollout(ns, name, kind string, provider trancheapi.Provider) *trancheapi.Rollout {
	weight := int32(50)
	if provider.Kubernetes != nil {
		weight = 100
	}
	return &trancheapi.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: trancheapi.RolloutSpec{
			TargetRef: trancheapi.TargetRef{Kind: kind, Name: name},
			Service:   trancheapi.ServiceSpec{Port: 8080},
			Provider:  provider,
			Steps:     []trancheapi.Step{{Weight: ptr.To(weight), Hold: &metav1.Duration{Duration: time.Second}}},
		},
	}
}

// configured is a Deployment whose pods take their environment from a ConfigMap and mount a
// Secret, both made here.
func configured(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-config"}, Data: map[string]string{"greeting": "hello"}}))
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-secret"}, StringData: map[string]string{"key": "s3cret"}}))
	d := harness.Deployment(ns, name, "app:1")
	pod := &d.Spec.Template.Spec
	pod.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}}
	pod.Volumes = []corev1.Volume{{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name + "-secret"}}}}
	return d
}

// autoscaler is the user's HorizontalPodAutoscaler of the Deployment name.
func autoscaler(ns, name string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 3,
		},
	}
}

// gatewayForTimeouts makes the Gateway public of ns and its class, which says it keeps a
// route's request timeout: the Gateway API provider reads both before it writes timeouts.
func gatewayForTimeouts(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	class := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "perms-" + ns},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "example.test/gateway"},
	}
	require.NoError(t, cp.Client.Create(ctx, class))
	t.Cleanup(func() { _ = cp.Client.Delete(context.Background(), class) })
	class.Status.SupportedFeatures = []gatewayv1.SupportedFeature{{Name: "HTTPRouteRequestTimeout"}, {Name: "GRPCRoute"}}
	require.NoError(t, cp.Client.Status().Update(ctx, class))
	require.NoError(t, cp.Client.Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "public"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(class.Name),
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}))
}

// notificationProvider makes the webhook provider team of ns, and the Secret with its
// address (nothing listens there: a lost notification fails nothing).
func notificationProvider(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-webhook"},
		StringData: map[string]string{"address": "http://127.0.0.1:9/hook"},
	}))
	require.NoError(t, cp.Client.Create(ctx, &trancheapi.NotificationProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: trancheapi.NotificationProviderSpec{
			Type: trancheapi.NotificationWebhook, SecretRef: trancheapi.LocalObjectReference{Name: "team-webhook"},
		},
	}))
}

// setImage releases a new version of the Deployment or DaemonSet name.
func setImage(ctx context.Context, ns, name, image string) error {
	ds := &appsv1.DaemonSet{}
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ds); apierrors.IsNotFound(err) {
		return harness.SetImage(ctx, cp.Client, ns, name, image)
	} else if err != nil {
		return err
	}
	patch := client.MergeFrom(ds.DeepCopy())
	ds.Spec.Template.Spec.Containers[0].Image = image
	return cp.Client.Patch(ctx, ds, patch)
}

// request annotates the Rollout with a person's request, as kubectl tranche does.
func request(t *testing.T, ro *trancheapi.Rollout, annotation, token string) {
	t.Helper()
	got := get(t, ro)
	patch := client.MergeFrom(got.DeepCopy())
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations[annotation] = token
	require.NoError(t, cp.Client.Patch(context.Background(), got, patch))
}

func get(t *testing.T, ro *trancheapi.Rollout) *trancheapi.Rollout {
	t.Helper()
	got := &trancheapi.Rollout{}
	require.NoError(t, cp.Client.Get(context.Background(), client.ObjectKeyFromObject(ro), got))
	return got
}

// waitFor waits a minute at most until the Rollout is as ok says.
func waitFor(t *testing.T, ro *trancheapi.Rollout, ok func(*trancheapi.Rollout) bool) {
	t.Helper()
	var last *trancheapi.Rollout
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = get(t, ro); ok(last) {
			return
		}
	}
	t.Fatalf("%s never got there: %s, %s", ro.Name, last.Status.Phase, last.Status.Message)
}

func inPhase(phase trancheapi.Phase) func(*trancheapi.Rollout) bool {
	return func(ro *trancheapi.Rollout) bool { return ro.Status.Phase == phase }
}
