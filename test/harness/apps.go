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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Apps plays the container runtime and the endpoints controller for the demo app
// (test/apps/demoapp): for every Service of Namespace whose selector picks a Deployment with
// replicas, it runs one demo app process listening on the Service's ClusterIP and port, as
// that Deployment's pod template says: the version is the image's tag, the flags are the
// container's args. A data plane that sends to ClusterIP:port (Traefik with nativeLB) so
// reaches the version the Deployment runs, although nothing runs in a pod.
//
// The API server must allocate ClusterIPs from a loopback range (Options.APIServerArgs
// "service-cluster-ip-range"), since the processes listen on them.
type Apps struct {
	Client    client.Client
	Namespace string
	// Binary is the demo app's executable.
	Binary string
	// LogDir receives one log file per Service.
	LogDir string

	mu       sync.Mutex
	services []corev1.Service
	seen     map[string]int64       // each Deployment's generation at the last sync
	running  map[string]*appProcess // by Service name
}

// drainTime is how long a process no Service wants any more keeps serving, as a pod's
// preStop hook would: the data plane takes a moment to stop sending to it after Tranche
// changed the route.
const drainTime = 2 * time.Second

// appSpec is what a Deployment's pod template asks the demo app to be.
type appSpec struct {
	version string
	args    []string
}

func (s appSpec) equal(o appSpec) bool { return s.version == o.version && slices.Equal(s.args, o.args) }

// specOf reads the demo app's version and flags from the first container of the template.
func specOf(d *appsv1.Deployment) appSpec {
	return containerSpec(d.Spec.Template.Spec.Containers[0])
}

// containerSpec is what a container asks the demo app to be: the image's tag is the
// version, the args are its flags.
func containerSpec(c corev1.Container) appSpec {
	version := "latest"
	if i := strings.LastIndex(c.Image, ":"); i >= 0 && !strings.Contains(c.Image[i:], "/") {
		version = c.Image[i+1:]
	}
	return appSpec{version: version, args: slices.Clone(c.Args)}
}

type appProcess struct {
	service       string
	addr          string
	spec          appSpec
	proc          *Process
	serving       bool
	unwantedSince time.Time
}

// Run keeps the processes in line with the Services and Deployments until ctx is done, then
// stops them all.
func (a *Apps) Run(ctx context.Context) {
	defer a.stopAll()
	lookEvery(ctx, 100*time.Millisecond, a.sync)
}

// Serving reports whether every Service that selects d reaches a process running d's pod
// template, answering requests: Kubelet.NotReady uses it, so that a Deployment is ready only
// once traffic sent to it is served. A Deployment the last sync has not seen as it is now is
// not served yet.
func (a *Apps) Serving(d *appsv1.Deployment) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if generation, ok := a.seen[d.Name]; !ok || generation != d.Generation {
		return false
	}
	if replicasOf(d) == 0 {
		return true
	}
	want := specOf(d)
	for _, svc := range a.services {
		if !selects(&svc, d) {
			continue
		}
		p := a.running[svc.Name]
		if p == nil || !p.serving || !p.spec.equal(want) {
			return false
		}
	}
	return true
}

// sync decides under the lock what to start and stop, and starts, stops and probes outside
// it, so that Serving never waits for a process.
func (a *Apps) sync(ctx context.Context) {
	var services corev1.ServiceList
	var deployments appsv1.DeploymentList
	if a.Client.List(ctx, &services, client.InNamespace(a.Namespace)) != nil ||
		a.Client.List(ctx, &deployments, client.InNamespace(a.Namespace)) != nil {
		return
	}
	toStop, toStart := a.plan(services.Items, deployments.Items, time.Now())
	stopProcesses(toStop)
	for _, p := range toStart {
		if err := a.start(p); err != nil {
			continue // tried again at the next sync
		}
		a.mu.Lock()
		a.running[p.service] = p
		a.mu.Unlock()
	}
	a.probe()
}

// plan records what the API server says and returns the processes to stop and those to
// start (not started yet).
func (a *Apps) plan(services []corev1.Service, deployments []appsv1.Deployment, now time.Time) (toStop, toStart []*appProcess) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]*appProcess{}
	}
	a.services = services
	a.seen = map[string]int64{}
	for _, d := range deployments {
		a.seen[d.Name] = d.Generation
	}
	wanted := map[string]bool{}
	for i := range services {
		svc := &services[i]
		addr, spec, ok := desiredApp(svc, deployments)
		if !ok {
			continue
		}
		wanted[svc.Name] = true
		p := a.running[svc.Name]
		if p != nil && (p.addr != addr || !p.spec.equal(spec) || !p.proc.Running()) {
			toStop = append(toStop, p)
			delete(a.running, svc.Name)
			p = nil
		}
		if p == nil {
			toStart = append(toStart, &appProcess{service: svc.Name, addr: addr, spec: spec})
		}
	}
	return append(toStop, drained(a.running, wanted, now)...), toStart
}

// drained takes out of running the processes unwanted for drainTime by now, and starts the
// drain of those unwanted since this look.
func drained[K comparable](running map[K]*appProcess, wanted map[K]bool, now time.Time) []*appProcess {
	var done []*appProcess
	for key, p := range running {
		switch {
		case wanted[key]:
			p.unwantedSince = time.Time{}
		case p.unwantedSince.IsZero():
			p.unwantedSince = now
		case now.Sub(p.unwantedSince) >= drainTime:
			done = append(done, p)
			delete(running, key)
		}
	}
	return done
}

// probe marks the processes that answer as serving.
func (a *Apps) probe() {
	a.mu.Lock()
	var starting []*appProcess
	for _, p := range a.running {
		if !p.serving {
			starting = append(starting, p)
		}
	}
	a.mu.Unlock()
	for _, p := range starting {
		if answers(p.addr) {
			a.mu.Lock()
			p.serving = true
			a.mu.Unlock()
		}
	}
}

// desiredApp is where and as what the demo app must run for svc: on its loopback ClusterIP
// and first port, as the first Deployment (by name) with replicas whose pods it selects.
func desiredApp(svc *corev1.Service, deployments []appsv1.Deployment) (string, appSpec, bool) {
	ip := net.ParseIP(svc.Spec.ClusterIP)
	if ip == nil || !ip.IsLoopback() || len(svc.Spec.Selector) == 0 || len(svc.Spec.Ports) == 0 {
		return "", appSpec{}, false
	}
	for i := range deployments {
		d := &deployments[i]
		if replicasOf(d) > 0 && selects(svc, d) {
			addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))
			return addr, specOf(d), true
		}
	}
	return "", appSpec{}, false
}

func selects(svc *corev1.Service, d *appsv1.Deployment) bool {
	return len(svc.Spec.Selector) > 0 &&
		labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func (a *Apps) start(p *appProcess) error {
	p.proc = &Process{
		Name: "the demo app of " + p.service, Path: a.Binary,
		Args:    append([]string{"--listen=" + p.addr, "--version=" + p.spec.version}, p.spec.args...),
		LogFile: filepath.Join(a.LogDir, p.service+".log"),
		Grace:   5 * time.Second,
	}
	return p.proc.Start(context.Background())
}

// stop asks the process to finish its requests and exit, and kills it if it has not within
// a few seconds.
func (p *appProcess) stop() {
	_ = p.proc.Stop()
}

func (a *Apps) stopAll() {
	stopProcesses(takeAll(&a.mu, a.running))
}

// takeAll empties running under mu and returns what it held.
func takeAll[K comparable](mu *sync.Mutex, running map[K]*appProcess) []*appProcess {
	mu.Lock()
	defer mu.Unlock()
	var all []*appProcess
	for key, p := range running {
		all = append(all, p)
		delete(running, key)
	}
	return all
}

// stopProcesses stops the processes at once and waits until they have all exited.
func stopProcesses(processes []*appProcess) {
	var wg sync.WaitGroup
	for _, p := range processes {
		wg.Go(p.stop)
	}
	wg.Wait()
}

func answers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	return getOK(ctx, "http://"+addr+"/healthz") == nil
}
