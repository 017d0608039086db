package harness_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/test/harness"
)

func deployment(ns, name string, replicas int32, behaviour string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo:v1"}}},
			},
		},
	}
	if behaviour != "" {
		d.Spec.Template.Annotations = map[string]string{harness.PodBehaviourAnnotation: behaviour}
	}
	return d
}

// eventually polls ok every 100 ms for up to limit and fails with what the last look saw.
func eventually(t *testing.T, limit time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		done, saw := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last seen: %s", what, limit, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestADeploymentRunsOnTheRealControllersAndKwokNodes(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	c := cp.Client
	require.NoError(t, c.Create(ctx, deployment(ns, "web", 3, "")))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	require.NoError(t, c.Create(ctx, svc))

	d := &appsv1.Deployment{}
	eventually(t, 30*time.Second, "the Deployment is available", func() (bool, string) {
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, d))
		return d.Status.AvailableReplicas == 3, d.Status.String()
	})

	var pods corev1.PodList
	require.NoError(t, c.List(ctx, &pods, client.InNamespace(ns)))
	require.Len(t, pods.Items, 3)
	ips := map[string]bool{}
	for _, pod := range pods.Items {
		assert.Contains(t, cp.Workloads.Nodes, pod.Spec.NodeName, "scheduled onto a kwok node")
		assert.Equal(t, corev1.PodRunning, pod.Status.Phase)
		ip := net.ParseIP(pod.Status.PodIP)
		if assert.NotNil(t, ip, "pod %s has an IP", pod.Name) {
			assert.True(t, harness.PodNetwork.Contains(ip), "pod IP %s is in its node's pod CIDR", ip)
		}
		ips[pod.Status.PodIP] = true
	}
	assert.Len(t, ips, 3, "each pod has an IP of its own")

	// The endpointslice controller lists the ready pods behind the Service.
	eventually(t, 10*time.Second, "the EndpointSlice lists the three ready pods", func() (bool, string) {
		var slices discoveryv1.EndpointSliceList
		require.NoError(t, c.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "web"}))
		ready := map[string]bool{}
		for _, slice := range slices.Items {
			for _, e := range slice.Endpoints {
				if ptr.Deref(e.Conditions.Ready, false) {
					ready[e.Addresses[0]] = true
				}
			}
		}
		return assert.ObjectsAreEqual(ips, ready), fmt.Sprint("ready endpoints ", ready)
	})
}

func TestAPodTemplateCanStayUnreadyOrCrash(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	c := cp.Client
	require.NoError(t, c.Create(ctx, deployment(ns, "unready", 1, harness.PodNeverReady)))
	require.NoError(t, c.Create(ctx, deployment(ns, "crashing", 1, harness.PodCrash)))

	podOf := func(app string) (*corev1.Pod, bool) {
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}))
		if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return nil, false
		}
		return &pods.Items[0], true
	}
	eventually(t, 30*time.Second, "the never-ready pod runs, unready", func() (bool, string) {
		pod, ok := podOf("unready")
		return ok && len(pod.Status.ContainerStatuses) == 1 && !pod.Status.ContainerStatuses[0].Ready && isReady(pod) == corev1.ConditionFalse, "no running pod"
	})
	eventually(t, 30*time.Second, "the crashing pod loops", func() (bool, string) {
		pod, ok := podOf("crashing")
		if !ok || len(pod.Status.ContainerStatuses) != 1 {
			return false, "no running pod"
		}
		s := pod.Status.ContainerStatuses[0]
		return s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" && s.RestartCount > 0, s.String()
	})
	// Neither counts as available, as a cluster would say.
	for _, name := range []string{"unready", "crashing"} {
		d := &appsv1.Deployment{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d))
		assert.Zero(t, d.Status.AvailableReplicas, name)
		assert.Equal(t, int32(1), d.Status.UnavailableReplicas, name)
	}
}

func isReady(pod *corev1.Pod) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func TestAJobCompletesOnKwok(t *testing.T) {
	ctx := context.Background()
	ns := cp.Namespace(t)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "hook", Image: "hook:v1"}},
		}}},
	}
	require.NoError(t, cp.Client.Create(ctx, job))
	eventually(t, 30*time.Second, "the Job completes", func() (bool, string) {
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(job), job))
		for _, cond := range job.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, job.Status.String()
	})
	assert.Equal(t, int32(1), job.Status.Succeeded)
}

// kwok renews each node's Lease, as a kubelet does: past the node-lifecycle controller's grace
// period (and the 5 s it takes to look), the nodes are still Ready and so are their pods. Without
// the heartbeat the controller marked them NotReady and took every pod's endpoint away.
func TestNodesStayReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := cp.Namespace(t)
	c := cp.Client
	require.NoError(t, c.Create(ctx, deployment(ns, "steady", 1, "")))
	eventually(t, 30*time.Second, "the pod is ready", func() (bool, string) {
		ready, saw := readyPods(ctx, c, ns, "steady")
		return ready == 1, saw
	})
	watchUntil := time.Now().Add(harness.NodeMonitorGracePeriod + 7*time.Second)
	for time.Now().Before(watchUntil) {
		if ready, saw := readyPods(ctx, c, ns, "steady"); ready != 1 {
			t.Fatalf("the pod went unready: %s", saw)
		}
		var nodes corev1.NodeList
		require.NoError(t, c.List(ctx, &nodes))
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
					t.Fatalf("node %s went %s: %s", n.Name, cond.Status, cond.Message)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readyPods counts the Ready pods of app, and says what each pod is.
func readyPods(ctx context.Context, c client.Client, ns, app string) (int, string) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
		return 0, err.Error()
	}
	ready, saw := 0, ""
	for _, p := range pods.Items {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				saw += fmt.Sprintf("%s Ready=%s (%s); ", p.Name, cond.Status, cond.Reason)
				if cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
	}
	return ready, saw
}

// The StatefulSet controller as a canary of a StatefulSet relies on it: with its claims bound
// to the volumes made for them, the set runs; a template edit under a partition of every pod
// updates none; lowering the partition updates the highest ordinal alone; and an updated pod
// below the partition, once deleted, comes back on the current revision with the same claim.
func TestAStatefulSetUpdatesOnlyAtAndAboveItsPartition(t *testing.T) {
	ctx := t.Context()
	ns := cp.Namespace(t)
	c := cp.Client
	set := harness.StatefulSet(ns, "db", "demo:v1", 3)
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](3)}}
	require.NoError(t, harness.StatefulSetVolumes(ctx, c, set))
	require.NoError(t, c.Create(ctx, set))

	current := func() *appsv1.StatefulSet {
		got := &appsv1.StatefulSet{}
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(set), got))
		return got
	}
	// revisions are the pods' revisions by ordinal, once every pod is ready.
	revisions := func() ([]string, bool) {
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "db"}))
		out := make([]string, 3)
		for _, pod := range pods.Items {
			var ordinal int
			_, err := fmt.Sscanf(pod.Name, "db-%d", &ordinal)
			if err != nil || ordinal > 2 || pod.DeletionTimestamp != nil || !podReady(&pod) {
				return nil, false
			}
			out[ordinal] = pod.Labels[appsv1.ControllerRevisionHashLabelKey]
		}
		return out, len(pods.Items) == 3
	}
	claims := func() map[string]string {
		var list corev1.PersistentVolumeClaimList
		require.NoError(t, c.List(ctx, &list, client.InNamespace(ns)))
		uids := map[string]string{}
		for _, claim := range list.Items {
			if claim.Status.Phase == corev1.ClaimBound {
				uids[claim.Name] = string(claim.UID) + " on " + claim.Spec.VolumeName
			}
		}
		return uids
	}
	waitFor := func(what string, want func(st *appsv1.StatefulSet, revs []string) bool) []string {
		var revs []string
		eventually(t, 60*time.Second, what, func() (bool, string) {
			st := current()
			var ok bool
			revs, ok = revisions()
			return ok && st.Status.ObservedGeneration == st.Generation && want(st, revs), fmt.Sprintf("%+v; pods %v", st.Status, revs)
		})
		return revs
	}

	waitFor("three ready pods", func(st *appsv1.StatefulSet, _ []string) bool { return st.Status.ReadyReplicas == 3 })
	bound := claims()
	require.Len(t, bound, 3, "each pod's claim bound to its volume")
	old := current().Status.CurrentRevision

	edited := current()
	edited.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	require.NoError(t, c.Update(ctx, edited))
	waitFor("a new revision", func(st *appsv1.StatefulSet, _ []string) bool { return st.Status.UpdateRevision != old })
	time.Sleep(2 * time.Second) // time enough for the controller to act, were it to
	revs, ok := revisions()
	require.True(t, ok, "every pod ready")
	assert.Equal(t, []string{old, old, old}, revs, "under a partition of 3, no pod is updated")
	updated := current().Status.UpdateRevision

	partition := func(p int32) {
		st := current()
		st.Spec.UpdateStrategy.RollingUpdate.Partition = &p
		require.NoError(t, c.Update(ctx, st))
	}
	partition(2)
	revs = waitFor("the highest ordinal updated", func(_ *appsv1.StatefulSet, revs []string) bool { return revs[2] == updated })
	assert.Equal(t, []string{old, old, updated}, revs)

	partition(3)
	time.Sleep(2 * time.Second)
	revs, ok = revisions()
	require.True(t, ok, "every pod ready")
	assert.Equal(t, []string{old, old, updated}, revs, "an updated pod below the partition is left as it is")
	pod := &corev1.Pod{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-2"}, pod))
	require.NoError(t, c.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}))
	revs = waitFor("the deleted pod back", func(_ *appsv1.StatefulSet, revs []string) bool { return revs[2] == old })
	assert.Equal(t, []string{old, old, old}, revs, "recreated on the current revision")
	assert.Equal(t, bound, claims(), "the same claims on the same volumes")
}

func podReady(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
