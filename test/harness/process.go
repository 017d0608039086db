package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program the harness runs beside the tests as a server of its own: Prometheus,
// Traefik, the manager, the demo app. It runs in a process group of its own (on Linux), which
// Kill and Stop signal as a whole, and dies with the program that started it. Its output is
// appended to a log, and the end of it is kept for the errors of a start that failed.
//
// The fields are read at every Start, so that a restart can change them. Start, Kill and Stop
// are for one goroutine at a time; Running and LogTail may be called from any.
type Process struct {
	// Name says which program it is in errors, such as "prometheus".
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Env is the program's environment; nil is this process's.
	Env []string
	// LogFile, when set, is a file every run's output is appended to, after a line saying when
	// the run started and with which arguments.
	LogFile string
	// Output, when set, gets every run's output too.
	Output io.Writer
	// Ready, when set, is probed until it returns nil before Start returns, each time with a
	// context that ends after a second.
	Ready func(context.Context) error
	// ReadyTimeout bounds the wait for Ready; the default is 30 s.
	ReadyTimeout time.Duration
	// Grace is how long Stop waits for the program to exit after SIGTERM before it kills it;
	// the default is 5 s.
	Grace time.Duration

	tail logTail

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil when not started, killed or stopped
	exited chan struct{} // closed once cmd has exited and its output is written
}

const (
	readyPoll    = 50 * time.Millisecond
	probeTimeout = time.Second
)

// Start starts the program, also again after Kill or Stop, and waits until Ready says it is
// ready, ctx ends or the program exits. A program that did not get ready is killed, and the
// error ends with the end of its log.
func (p *Process) Start(ctx context.Context) error {
	if p.Running() {
		return fmt.Errorf("harness: %s is already running", p.Name)
	}
	out, closeLog, err := p.output()
	if err != nil {
		return err
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = out, out
	// Should something the program started keep its output open, Wait does not wait for it.
	cmd.WaitDelay = time.Second
	DieWithParent(cmd)
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		closeLog()
		return fmt.Errorf("harness: starting %s (%s): %w", p.Name, p.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		closeLog()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if p.Ready == nil {
		return nil
	}
	if err := p.waitReady(ctx, exited); err != nil {
		_ = p.Kill()
		return err
	}
	return nil
}

// output opens the run's log and returns where the program's output goes.
func (p *Process) output() (io.Writer, func(), error) {
	out := &fanOut{sinks: []io.Writer{&p.tail}}
	if p.Output != nil {
		out.sinks = append(out.sinks, p.Output)
	}
	if p.LogFile == "" {
		return out, func() {}, nil
	}
	f, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(f, "--- %s %s %s\n", time.Now().Format(time.RFC3339), p.Path, strings.Join(p.Args, " "))
	out.sinks = append(out.sinks, f)
	return out, func() { _ = f.Close() }, nil
}

func (p *Process) waitReady(ctx context.Context, exited <-chan struct{}) error {
	limit := cmp.Or(p.ReadyTimeout, 30*time.Second)
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("not ready after %s", limit))
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		probe, cancelProbe := context.WithTimeout(ctx, probeTimeout)
		err := p.Ready(probe)
		cancelProbe()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("harness: %s exited before it was ready:\n%s", p.Name, p.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("harness: %s %v (the last probe: %v):\n%s", p.Name, context.Cause(ctx), err, p.LogTail())
		case <-tick.C:
		}
	}
}

// Pid is the running program's process ID, 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the program was started and has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill kills the program's process group at once, as a crash would, and waits until the
// program has exited. It does nothing when the program is not running.
func (p *Process) Kill() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	err := signalGroup(cmd.Process, syscall.SIGKILL)
	<-exited
	return err
}

// Stop asks the program's process group to stop (SIGTERM), waits up to Grace for the
// program to exit, and then kills what is left of the group. It is an error if the program
// had to be killed.
func (p *Process) Stop() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = signalGroup(cmd.Process, syscall.SIGTERM)
	grace := cmp.Or(p.Grace, 5*time.Second)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
		return p.Kill()
	case <-timer.C:
		return errors.Join(fmt.Errorf("harness: %s did not stop within %s of SIGTERM", p.Name, grace), p.Kill())
	}
}

// StopOnCleanup stops the program when t ends, and logs the end of its log if t failed.
func (p *Process) StopOnCleanup(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the log of %s ends with:\n%s", p.Name, p.LogTail())
		}
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
}

// LogTail is the end of the program's output, over its runs so far.
func (p *Process) LogTail() string {
	return p.tail.String()
}

// tailSize is how much of a program's output LogTail keeps.
const tailSize = 4000

type logTail struct {
	mu  sync.Mutex
	end []byte
}

func (t *logTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end = append(t.end, b...)
	if over := len(t.end) - tailSize; over > 0 {
		t.end = t.end[over:]
	}
	return len(b), nil
}

func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.end)
}

// fanOut writes to every sink, and skips one that fails: a full disk must not block the
// program on its output. A pointer, so that exec writes stdout and stderr from one goroutine.
type fanOut struct{ sinks []io.Writer }

func (f *fanOut) Write(b []byte) (int, error) {
	for _, s := range f.sinks {
		_, _ = s.Write(b)
	}
	return len(b), nil
}

// GetOK is the readiness probe most servers answer: a GET of url that returns 200.
func GetOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return okResponse(http.DefaultClient.Do(req))
}

// okResponse is nil for a 200 response, whose body it closes, and an error otherwise.
func okResponse(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s from %s", resp.Status, resp.Request.URL)
	}
	return nil
}
