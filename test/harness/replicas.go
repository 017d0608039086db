package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReplicaWrite is one change of a Deployment's spec.replicas, and who made it, as the API
// server's managedFields say.
type ReplicaWrite struct {
	Deployment string
	From, To   int32
	Manager    string
	At         time.Time
}

// ReplicaWrites records every change of the replicas of the Deployments in a namespace, to
// tell whether two controllers fight over a count.
type ReplicaWrites struct {
	mu     sync.Mutex
	writes []ReplicaWrite
}

// WatchReplicaWrites records the replica changes in namespace until ctx ends.
func WatchReplicaWrites(ctx context.Context, c client.WithWatch, namespace string) (*ReplicaWrites, error) {
	w, err := c.Watch(ctx, &appsv1.DeploymentList{}, client.InNamespace(namespace))
	if err != nil {
		return nil, err
	}
	rw := &ReplicaWrites{}
	go func() {
		defer w.Stop()
		seen := map[string]int32{}
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			n := ptr.Deref(d.Spec.Replicas, 1)
			before, known := seen[d.Name]
			seen[d.Name] = n
			if known && before != n {
				rw.mu.Lock()
				rw.writes = append(rw.writes, ReplicaWrite{Deployment: d.Name, From: before, To: n, Manager: replicasManager(d), At: time.Now()})
				rw.mu.Unlock()
			}
		}
	}()
	return rw, nil
}

// replicasManager is the field manager that owns spec.replicas: the last to change it.
func replicasManager(d *appsv1.Deployment) string {
	for _, entry := range d.ManagedFields {
		if entry.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(entry.FieldsV1.Raw, &fields) == nil {
			if _, ok := fields.Spec["f:replicas"]; ok {
				return entry.Manager
			}
		}
	}
	return ""
}

// autoscalerManager is the field manager of the HPA controller's writes (through the scale
// subresource).
const autoscalerManager = "kube-controller-manager"

// fightWindow is how soon after a count is set a change by the other side counts as setting
// it back: the HPA controller of Workloads looks every second.
const fightWindow = 5 * time.Second

// Tally counts the writes since a time (when the autoscalers were made) to the autoscaled
// Deployments by the field manager controller and by the HPA controller, and lists the fights: controller changing a count an autoscaler set
// (other than scaling to or from zero, which turns the autoscaler off and on), or an
// autoscaler changing a count controller had just set.
func (rw *ReplicaWrites) Tally(controller string, since time.Time, autoscaled ...string) (byController, byAutoscalers int, fights []string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	watched := map[string]bool{}
	for _, name := range autoscaled {
		watched[name] = true
	}
	last := map[string]ReplicaWrite{}
	for _, w := range rw.writes {
		if !watched[w.Deployment] || w.At.Before(since) {
			continue
		}
		prev, hadPrev := last[w.Deployment]
		last[w.Deployment] = w
		switch w.Manager {
		case controller:
			byController++
			if w.From != 0 && w.To != 0 {
				fights = append(fights, fmt.Sprintf("%s set %s from %d to %d over its autoscaler", controller, w.Deployment, w.From, w.To))
			}
		case autoscalerManager:
			byAutoscalers++
			if hadPrev && prev.Manager == controller && w.At.Sub(prev.At) < fightWindow {
				fights = append(fights, fmt.Sprintf("the autoscaler set %s back from %d to %d, %s after %s set it",
					w.Deployment, w.From, w.To, w.At.Sub(prev.At).Round(time.Millisecond), controller))
			}
		}
	}
	return byController, byAutoscalers, fights
}
