package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	running  map[string]*appProcess // by Service name
}

// appSpec is what a Deployment's pod template asks the demo app to be.
type appSpec struct {
	version string
	args    []string
}

func (s appSpec) equal(o appSpec) bool { return s.version == o.version && slices.Equal(s.args, o.args) }

// specOf reads the demo app's version and flags from the first container of the template.
func specOf(d *appsv1.Deployment) appSpec {
	c := d.Spec.Template.Spec.Containers[0]
	version := "latest"
	if i := strings.LastIndex(c.Image, ":"); i >= 0 && !strings.Contains(c.Image[i:], "/") {
		version = c.Image[i+1:]
	}
	return appSpec{version: version, args: slices.Clone(c.Args)}
}

type appProcess struct {
	addr    string
	spec    appSpec
	cmd     *exec.Cmd
	exited  chan struct{}
	serving bool
}

// Run keeps the processes in line with the Services and Deployments until ctx is done, then
// stops them all.
func (a *Apps) Run(ctx context.Context) {
	defer a.stopAll()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		a.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Serving reports whether every Service that selects d reaches a process running d's pod
// template, answering requests: Kubelet.NotReady uses it, so that a Deployment is ready only
// once traffic sent to it is served.
func (a *Apps) Serving(d *appsv1.Deployment) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
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

func (a *Apps) sync(ctx context.Context) {
	var services corev1.ServiceList
	var deployments appsv1.DeploymentList
	if a.Client.List(ctx, &services, client.InNamespace(a.Namespace)) != nil ||
		a.Client.List(ctx, &deployments, client.InNamespace(a.Namespace)) != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		a.running = map[string]*appProcess{}
	}
	a.services = services.Items
	wanted := map[string]bool{}
	for i := range services.Items {
		svc := &services.Items[i]
		addr, spec, ok := desiredApp(svc, deployments.Items)
		if !ok {
			continue
		}
		wanted[svc.Name] = true
		p := a.running[svc.Name]
		if p != nil && (p.addr != addr || !p.spec.equal(spec) || p.hasExited()) {
			p.stop()
			p = nil
		}
		if p == nil {
			var err error
			if p, err = a.start(svc.Name, addr, spec); err != nil {
				continue // tried again at the next poll
			}
			a.running[svc.Name] = p
		}
		if !p.serving {
			p.serving = answers(addr)
		}
	}
	for name, p := range a.running {
		if !wanted[name] {
			p.stop()
			delete(a.running, name)
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

func (a *Apps) start(service, addr string, spec appSpec) (*appProcess, error) {
	logFile, err := os.OpenFile(filepath.Join(a.LogDir, service+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	fmt.Fprintf(logFile, "--- %s %s %v on %s\n", time.Now().Format(time.RFC3339), spec.version, spec.args, addr)
	args := append([]string{"--listen=" + addr, "--version=" + spec.version}, spec.args...)
	cmd := exec.Command(a.Binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: starting the demo app %s: %w", a.Binary, err)
	}
	p := &appProcess{addr: addr, spec: spec, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *appProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop asks the process to finish its requests and exit, and kills it if it has not within
// a few seconds.
func (p *appProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return
		}
		<-p.exited
	}
}

func (a *Apps) stopAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, p := range a.running {
		p.stop()
		delete(a.running, name)
	}
}

var healthClient = &http.Client{Timeout: 200 * time.Millisecond}

func answers(addr string) bool {
	resp, err := healthClient.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
