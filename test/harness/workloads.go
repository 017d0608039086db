package harness

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Workloads runs what makes workloads run in a cluster, against a control plane: the real
// kube-controller-manager (the controllers below) and kube-scheduler, and kwok playing the
// nodes and their kubelets. A Deployment gets ReplicaSets and pods, the scheduler binds them,
// kwok makes them Running and Ready after WorkloadOptions.PodReadyDelay, and the endpointslice
// controller lists the ready ones: Kubernetes decides, not the harness.
//
// A pod template chooses its pods' fate with the annotation PodBehaviourAnnotation (see
// kwok-stages.yaml): none is ready after the delay, PodNeverReady stays unready, PodCrash
// crash-loops. A pod that may not restart (a Job's) succeeds after the delay.
type Workloads struct {
	// Nodes are the names of the kwok nodes, node n with the pod CIDR 10.244.<n>.0/24. (Not a
	// loopback range, where a test could listen on a pod's IP: the API server refuses
	// loopback addresses in EndpointSlices.)
	Nodes []string

	processes []*Process // in the order they were started
}

// WorkloadOptions change what Workloads are started with.
type WorkloadOptions struct {
	// Nodes is how many kwok nodes there are; the default is 2.
	Nodes int
	// PodReadyDelay is how long a pod bound to a node takes to become Running (and Ready);
	// the default is 200 ms.
	PodReadyDelay time.Duration
	// LogDir receives a log per program; the default is a new temporary folder.
	LogDir string
}

const (
	// PodBehaviourAnnotation on a pod template says what kwok makes of its pods.
	PodBehaviourAnnotation = "test.tranche.dev/pod-behaviour"
	// PodNeverReady pods run and never become ready, as a failing readiness probe keeps them.
	PodNeverReady = "never-ready"
	// PodCrash pods crash again and again (CrashLoopBackOff).
	PodCrash = "crash"
)

// SetPodBehaviour sets what kwok makes of a template's pods: behaviour is PodNeverReady,
// PodCrash, or "" for pods that become ready.
func SetPodBehaviour(template *corev1.PodTemplateSpec, behaviour string) {
	if behaviour == "" {
		delete(template.Annotations, PodBehaviourAnnotation)
		return
	}
	if template.Annotations == nil {
		template.Annotations = map[string]string{}
	}
	template.Annotations[PodBehaviourAnnotation] = behaviour
}

// controllers are the kube-controller-manager controllers Workloads run. The full names:
// kube-controller-manager exits at once on some of the short ones. node-lifecycle takes the
// not-ready taint off a node once kwok reports it Ready; without it nothing is scheduled. The
// persistent volume binder binds a StatefulSet's claims to the volumes a test made for them
// (StatefulSetVolumes): nothing provisions volumes here, and the scheduler holds a pod whose
// claims are unbound.
var controllers = []string{
	"deployment-controller", "replicaset-controller", "daemonset-controller", "job-controller",
	"statefulset-controller", "persistentvolume-binder-controller",
	"horizontal-pod-autoscaler-controller", "endpointslice-controller", "garbage-collector-controller",
	"namespace-controller", "node-lifecycle-controller",
}

//go:embed kwok-stages.yaml
var kwokStages string

// hpaSyncPeriod is how often the HPA controller looks at each autoscaler: 1 s rather than the
// default 15 s, so that a test sees it act within seconds.
const hpaSyncPeriod = "1s"

// A node's kubelet says it is alive by renewing the node's Lease, every quarter of the lease's
// duration; the node-lifecycle controller marks a node whose Lease was not renewed within the
// grace period NotReady, and every pod on it unready, as if the node had died. kwok renews the
// Leases every 2 s here. The grace period is 20 s rather than the default 50 s so that a test
// of the heartbeat (TestNodesStayReady) is short: without a Lease kwok set a node's status once
// and the nodes "died" every 50 s, taking every endpoint with them for a few hundred
// milliseconds, which a data plane answers with 502.
const (
	nodeLeaseSeconds = 8
	// NodeMonitorGracePeriod is how long a node may go without a heartbeat before the
	// node-lifecycle controller takes it for dead.
	NodeMonitorGracePeriod = 20 * time.Second
)

// StartWorkloads starts kube-controller-manager, kube-scheduler and kwok from the folder of
// the control plane's binaries, creates the nodes and waits until they take pods.
func (cp *ControlPlane) StartWorkloads(ctx context.Context, opts WorkloadOptions) (*Workloads, error) {
	opts.Nodes = max(opts.Nodes, 2)
	if opts.PodReadyDelay == 0 {
		opts.PodReadyDelay = 200 * time.Millisecond
	}
	dir := opts.LogDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tranche-workloads-"); err != nil {
			return nil, err
		}
	}
	w := &Workloads{}
	if err := w.start(ctx, cp, dir, opts); err != nil {
		_ = w.Stop()
		return nil, err
	}
	return w, nil
}

func (w *Workloads) start(ctx context.Context, cp *ControlPlane, dir string, opts WorkloadOptions) error {
	kubeconfig, err := cp.Kubeconfig(dir)
	if err != nil {
		return err
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	delay := strconv.FormatInt(opts.PodReadyDelay.Milliseconds(), 10)
	if err := os.WriteFile(stages, []byte(strings.ReplaceAll(kwokStages, "POD_READY_DELAY_MS", delay)), 0o600); err != nil {
		return err
	}
	managerPort, err := FreeAddress()
	if err != nil {
		return err
	}
	schedulerPort, err := FreeAddress()
	if err != nil {
		return err
	}
	programs := []*Process{
		cp.component(dir, "kube-controller-manager", managerPort, kubeconfig,
			"--controllers="+strings.Join(controllers, ","), "--use-service-account-credentials=false",
			"--horizontal-pod-autoscaler-sync-period="+hpaSyncPeriod,
			"--node-monitor-grace-period="+NodeMonitorGracePeriod.String(),
			// The default 20 requests a second, made for a shared API server, made the scale
			// bench's 200 Deployments take a minute and a half to get their pods.
			"--kube-api-qps=500", "--kube-api-burst=1000",
			"--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20", "--concurrent-service-endpoint-syncs=20"),
		cp.component(dir, "kube-scheduler", schedulerPort, kubeconfig, "--kube-api-qps=500", "--kube-api-burst=1000"),
		{
			Name: "kwok", Path: filepath.Join(cp.Assets, "kwok"), LogFile: filepath.Join(dir, "kwok.log"),
			Args: []string{"--kubeconfig=" + kubeconfig, "--config=" + stages, "--node-ip=127.0.0.1",
				"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=true",
				"--node-lease-duration-seconds=" + strconv.Itoa(nodeLeaseSeconds)},
		},
	}
	for _, p := range programs {
		if err := p.Start(ctx); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w: run `make envtest-assets`", err)
			}
			return err
		}
		w.processes = append(w.processes, p)
	}
	for i := range opts.Nodes {
		node := kwokNode(i)
		if err := cp.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("harness: creating node %s: %w", node.Name, err)
		}
		w.Nodes = append(w.Nodes, node.Name)
	}
	return w.waitSchedulable(ctx, cp.Client)
}

// PodNetwork holds the pod CIDRs of the kwok nodes, 10.244.<n>.0/24 for node n.
var PodNetwork = &net.IPNet{IP: net.IPv4(10, 244, 0, 0), Mask: net.CIDRMask(16, 32)}

// kwokNodeAnnotation marks the nodes kwok plays.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

func kwokNode(i int) *corev1.Node {
	name := fmt.Sprintf("kwok-node-%d", i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "true"},
			Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
		},
		Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.244.%d.0/24", i+1)},
	}
}

// component is kube-controller-manager or kube-scheduler: it serves its health on a free
// loopback port (always allowed, no credentials needed), which says when it is up.
func (cp *ControlPlane) component(dir, name, address, kubeconfig string, args ...string) *Process {
	host, port, _ := strings.Cut(address, ":")
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return &Process{
		Name: name, Path: filepath.Join(cp.Assets, name), LogFile: filepath.Join(dir, name+".log"),
		Args: append([]string{
			"--kubeconfig=" + kubeconfig, "--leader-elect=false",
			"--bind-address=" + host, "--secure-port=" + port, "--cert-dir=" + filepath.Join(dir, name+"-certs"),
		}, args...),
		Ready: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+address+"/healthz", nil)
			if err != nil {
				return err
			}
			return okResponse(insecure.Do(req))
		},
	}
}

// waitSchedulable waits until every node is Ready and without taints: kwok reported it, and
// the node-lifecycle controller took off the taint a new node starts with.
func (w *Workloads) waitSchedulable(ctx context.Context, c client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		waiting := ""
		for _, name := range w.Nodes {
			node := &corev1.Node{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, node); err != nil || !schedulable(node) {
				waiting = name
				break
			}
		}
		if waiting == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: node %s did not become Ready and untainted within 30 s; logs: %s", waiting, w.logTails())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func schedulable(node *corev1.Node) bool {
	if len(node.Spec.Taints) > 0 {
		return false
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (w *Workloads) logTails() string {
	var b strings.Builder
	for _, p := range w.processes {
		fmt.Fprintf(&b, "\n--- %s:\n%s", p.Name, p.LogTail())
	}
	return b.String()
}

// Stop stops kwok, the scheduler and the controller manager, the last started first. It
// must come before the control plane's Stop, which otherwise waits for them in vain.
func (w *Workloads) Stop() error {
	var errs []error
	for i := len(w.processes) - 1; i >= 0; i-- {
		errs = append(errs, w.processes[i].Stop())
	}
	w.processes = nil
	return errors.Join(errs...)
}
