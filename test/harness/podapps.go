package harness

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PodApps plays the container runtime for the demo app on Workloads' kwok nodes: for every
// pod of Namespace that kwok started (Running, with an IP), it runs one demo app process on
// the loopback twin of the pod's IP (PodTwin) and its first container's first port (9898
// without one), as the pod's spec says: the version is the image's tag, the flags are the
// container's args, with the environment a kubelet would give it (containerEnv: its env and
// envFrom, ConfigMaps and Secrets read when the process starts, $(NAME) expanded in the args).
// kwok says when the pod is Ready and the endpointslice controller lists
// it; ServiceProxy sends it traffic only then. When the pod is gone (kwok deletes a pod at
// once) its process gets SIGTERM, as a kubelet's container would, and finishes the requests
// it has: the demo app closes its idle connections, so that the data plane's next request
// opens one to a pod still there.
type PodApps struct {
	Client client.Client
	// Namespace is the one whose pods run, "" for every namespace's. Pods of several
	// namespaces share the nodes' addresses, so one PodApps serves them all: a pod given the
	// address of another namespace's pod still draining takes it from that pod's process.
	Namespace string
	// Binary is the demo app's executable.
	Binary string
	// LogDir receives one log file per pod.
	LogDir string

	mu      sync.Mutex
	running map[types.UID]*appProcess
	// draining holds, by address, the processes of pods that are gone and still finishing
	// their requests.
	draining map[string]*Process
}

// appSpec is what a pod's container asks the demo app to be.
type appSpec struct {
	version string
	args    []string
}

// containerSpec reads it from the container: the image's tag is the version, the args are
// the flags.
func containerSpec(c corev1.Container) appSpec {
	version := "latest"
	if i := strings.LastIndex(c.Image, ":"); i >= 0 && !strings.Contains(c.Image[i:], "/") {
		version = c.Image[i+1:]
	}
	return appSpec{version: version, args: slices.Clone(c.Args)}
}

type appProcess struct {
	pod       string
	namespace string
	addr      string
	spec      appSpec
	container corev1.Container
	proc      *Process
}

// demoAppPort is where the demo app listens when its container declares no port.
const demoAppPort = 9898

// Run keeps a process for every started pod until ctx is done, looking every 100 ms, then
// stops them all.
func (a *PodApps) Run(ctx context.Context) {
	defer a.stopAll()
	lookEvery(ctx, 100*time.Millisecond, func(ctx context.Context) {
		var pods corev1.PodList
		if a.Client.List(ctx, &pods, client.InNamespace(a.Namespace)) == nil {
			toStop, toStart := a.plan(pods.Items)
			a.drain(toStop)
			a.startAll(ctx, toStart)
		}
	})
}

// Address is where the process playing pod listens, or false while kwok has not started it.
func (a *PodApps) Address(pod *corev1.Pod) (string, bool) {
	addr, _, ok := podApp(pod)
	return addr, ok
}

// plan returns the processes to stop (their pods are gone, or they exited) and those to
// start.
func (a *PodApps) plan(pods []corev1.Pod) (toStop, toStart []*appProcess) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[types.UID]*appProcess{}
	}
	wanted := map[types.UID]bool{}
	for i := range pods {
		pod := &pods[i]
		addr, spec, ok := podApp(pod)
		if !ok {
			continue
		}
		wanted[pod.UID] = true
		if p := a.running[pod.UID]; p != nil {
			if p.proc == nil || p.proc.Running() {
				continue // starting, or running
			}
			toStop = append(toStop, p) // it exited: start it again, as a kubelet restarts a container
		}
		p := &appProcess{pod: pod.Name, namespace: pod.Namespace, addr: addr, spec: spec, container: pod.Spec.Containers[0]}
		a.running[pod.UID] = p
		toStart = append(toStart, p)
	}
	for uid, p := range a.running {
		if !wanted[uid] {
			toStop = append(toStop, p)
			delete(a.running, uid)
		}
	}
	return toStop, toStart
}

// podApp is where and as what the demo app runs for pod, once kwok has started it; a pod
// being deleted runs on until it is gone.
func podApp(pod *corev1.Pod) (string, appSpec, bool) {
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || len(pod.Spec.Containers) == 0 {
		return "", appSpec{}, false
	}
	twin, err := PodTwin(pod.Status.PodIP)
	if err != nil {
		return "", appSpec{}, false
	}
	c := pod.Spec.Containers[0]
	port := int32(demoAppPort)
	if len(c.Ports) > 0 {
		port = c.Ports[0].ContainerPort
	}
	return net.JoinHostPort(twin, strconv.Itoa(int(port))), containerSpec(c), true
}

// drain stops the processes without waiting for them: each finishes its requests (the demo
// app answers for a moment after SIGTERM, as a pod with a preStop pause does) while the
// other pods' processes go on being looked after.
func (a *PodApps) drain(processes []*appProcess) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.draining == nil {
		a.draining = map[string]*Process{}
	}
	for _, p := range processes {
		if p.proc == nil {
			continue
		}
		proc, addr := p.proc, p.addr
		a.draining[addr] = proc
		go func() {
			_ = proc.Stop()
			a.mu.Lock()
			if a.draining[addr] == proc {
				delete(a.draining, addr)
			}
			a.mu.Unlock()
		}()
	}
}

// takeAddress kills a draining process that still holds addr: kwok gave its pod's address
// to a new pod, and in a cluster an address is given again only once the old pod's
// containers are gone.
func (a *PodApps) takeAddress(addr string) {
	a.mu.Lock()
	old := a.draining[addr]
	delete(a.draining, addr)
	a.mu.Unlock()
	if old != nil {
		_ = old.Kill()
	}
}

func (a *PodApps) startAll(ctx context.Context, processes []*appProcess) {
	for _, p := range processes {
		a.takeAddress(p.addr)
		env, err := containerEnv(ctx, a.Client, p.namespace, p.container)
		if err != nil {
			a.forget(p) // as a kubelet does, not started until what it needs is there: looked at again next time
			continue
		}
		args := []string{"--listen=" + p.addr, "--version=" + p.spec.version}
		for _, arg := range p.spec.args {
			args = append(args, expand(arg, env))
		}
		proc := &Process{
			Name: "the demo app of pod " + p.pod, Path: a.Binary, Args: args, Env: environ(env),
			LogFile: filepath.Join(a.LogDir, p.pod+".log"),
			Grace:   5 * time.Second,
		}
		_ = proc.Start(context.Background()) // one that failed is started again at the next look
		a.mu.Lock()
		p.proc = proc
		a.mu.Unlock()
	}
}

// forget drops a process that was planned and not started, so that the next look plans it
// again.
func (a *PodApps) forget(p *appProcess) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for uid, q := range a.running {
		if q == p {
			delete(a.running, uid)
		}
	}
}

func (a *PodApps) stopAll() {
	a.mu.Lock()
	var all []*appProcess
	for uid, p := range a.running {
		all = append(all, p)
		delete(a.running, uid)
	}
	for addr, proc := range a.draining {
		all = append(all, &appProcess{addr: addr, proc: proc})
	}
	a.mu.Unlock()
	stopProcesses(all)
}

// stopProcesses stops the processes (SIGTERM, then SIGKILL after their grace) and waits
// until they have all exited.
func stopProcesses(processes []*appProcess) {
	var wg sync.WaitGroup
	for _, p := range processes {
		if p.proc != nil { // nil: planned, not started
			wg.Go(func() { _ = p.proc.Stop() })
		}
	}
	wg.Wait()
}
