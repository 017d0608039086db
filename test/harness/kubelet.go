package harness

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kubelet plays the kubelet and the Deployment controller, which envtest does not run: it
// writes each Deployment's status as if all its replicas became ready Delay after the
// Deployment last changed, except while NotReady says its pods are not ready (as a never
// ready image, or, with Apps, until the processes playing its pods answer).
type Kubelet struct {
	Client    client.Client
	Namespace string
	Delay     time.Duration
	NotReady  func(*appsv1.Deployment) bool

	mu      sync.Mutex
	changed map[types.NamespacedName]seen
}

type seen struct {
	generation int64
	replicas   int32
	at         time.Time
}

// Run updates statuses every poll until ctx is done.
func (k *Kubelet) Run(ctx context.Context) {
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			k.sync(ctx)
		}
	}
}

func (k *Kubelet) sync(ctx context.Context) {
	var list appsv1.DeploymentList
	if err := k.Client.List(ctx, &list, client.InNamespace(k.Namespace)); err != nil {
		return
	}
	for i := range list.Items {
		d := &list.Items[i]
		want := k.statusFor(d, time.Now())
		if statusEqual(d.Status, want) {
			continue
		}
		d.Status = want
		_ = k.Client.Status().Update(ctx, d) // a conflict is retried at the next poll
	}
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
