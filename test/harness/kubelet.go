package harness

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kubelet plays the kubelet and the Deployment controller, which envtest does not run: it
// writes each Deployment's status as if all its replicas became ready Delay after the
// Deployment last changed, except while NotReady says its pods are not ready (as a never
// ready image, or, with Apps, until the processes playing its pods answer).
//
// It watches Deployments rather than listing them, so that tens of thousands of them cost
// the API server one watch, and looks at its copies every tick: readiness changes with time
// and with NotReady, not only with the objects.
type Kubelet struct {
	Client    client.WithWatch
	Namespace string
	Delay     time.Duration
	NotReady  func(*appsv1.Deployment) bool

	mu      sync.Mutex
	changed map[types.NamespacedName]seen
	// written remembers the version each status was last written over: until the watch
	// brings the next version, writing again would only conflict.
	written map[types.NamespacedName]attempt
}

type attempt struct {
	resourceVersion string
	at              time.Time
}

type seen struct {
	generation int64
	replicas   int32
	at         time.Time
}

// tick is how often the Kubelet looks at its copies of the Deployments.
const tick = 50 * time.Millisecond

// Run updates statuses until ctx is done.
func (k *Kubelet) Run(ctx context.Context) {
	store, informer := toolscache.NewInformerWithOptions(toolscache.InformerOptions{
		ListerWatcher: &toolscache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				list := &appsv1.DeploymentList{}
				return list, k.Client.List(ctx, list, client.InNamespace(k.Namespace), &client.ListOptions{Raw: &opts})
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return k.Client.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(k.Namespace), &client.ListOptions{Raw: &opts})
			},
		},
		ObjectType: &appsv1.Deployment{},
		Handler:    toolscache.ResourceEventHandlerFuncs{},
	})
	go informer.RunWithContext(ctx)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if informer.HasSynced() {
				k.sync(ctx, store.List())
			}
		}
	}
}

func (k *Kubelet) sync(ctx context.Context, deployments []any) {
	now := time.Now()
	for _, obj := range deployments {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		want := k.statusFor(d, now)
		if statusEqual(d.Status, want) || k.writtenOver(d, now) {
			continue
		}
		// The store's copy is shared: write a copy. A conflict (the copy was stale) is
		// tried again with the version the watch brings.
		d = d.DeepCopy()
		d.Status = want
		_ = k.Client.Status().Update(ctx, d)
	}
}

// writtenOver reports whether a status was written over this version of d lately, and
// records that one is about to be. A write that failed for another reason than a newer
// version is tried again after a second.
func (k *Kubelet) writtenOver(d *appsv1.Deployment, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := client.ObjectKeyFromObject(d)
	if last, ok := k.written[key]; ok && last.resourceVersion == d.ResourceVersion && now.Sub(last.at) < time.Second {
		return true
	}
	if k.written == nil {
		k.written = map[types.NamespacedName]attempt{}
	}
	k.written[key] = attempt{resourceVersion: d.ResourceVersion, at: now}
	return false
}

// statusFor is the status the Deployment has at time now.
func (k *Kubelet) statusFor(d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	key := client.ObjectKeyFromObject(d)
	k.mu.Lock()
	if k.changed == nil {
		k.changed = map[types.NamespacedName]seen{}
	}
	last, ok := k.changed[key]
	if !ok || last.generation != d.Generation || last.replicas != replicas {
		last = seen{generation: d.Generation, replicas: replicas, at: now}
		k.changed[key] = last
	}
	k.mu.Unlock()

	ready := now.Sub(last.at) >= k.Delay && (k.NotReady == nil || !k.NotReady(d))
	st := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas}
	available := corev1.ConditionFalse
	if ready {
		st.ReadyReplicas, st.AvailableReplicas = replicas, replicas
		available = corev1.ConditionTrue
	} else {
		st.UnavailableReplicas = replicas
	}
	st.Conditions = []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: available, Reason: "Simulated"},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
	}
	return st
}

// statusEqual compares what statusFor sets, ignoring condition timestamps.
func statusEqual(a, b appsv1.DeploymentStatus) bool {
	if a.ObservedGeneration != b.ObservedGeneration || a.Replicas != b.Replicas || a.UpdatedReplicas != b.UpdatedReplicas ||
		a.ReadyReplicas != b.ReadyReplicas || a.AvailableReplicas != b.AvailableReplicas ||
		a.UnavailableReplicas != b.UnavailableReplicas || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		if a.Conditions[i].Type != b.Conditions[i].Type || a.Conditions[i].Status != b.Conditions[i].Status {
			return false
		}
	}
	return true
}
