package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitHTTPBackend is Git's own smart-HTTP server, a CGI program Debian's git ships.
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitServer serves Git repositories over Git's smart-HTTP protocol on 127.0.0.1, with Git's
// own server (git http-backend) behind Go's CGI handler: what a GitOps tool clones from.
// Each repository has a working copy in which Commit writes files.
type GitServer struct {
	root   string // the bare repositories
	work   string // their working copies
	server *http.Server
	url    string
}

// StartGitServer serves the repositories it makes under a temporary folder until ctx ends.
func StartGitServer(ctx context.Context) (*GitServer, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("harness: git is not on the PATH: `make git` installs Debian's git")
	}
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		return nil, fmt.Errorf("harness: no %s: `make git` installs Debian's git", gitHTTPBackend)
	}
	dir, err := os.MkdirTemp("", "tranche-git-")
	if err != nil {
		return nil, err
	}
	g := &GitServer{root: filepath.Join(dir, "bare"), work: filepath.Join(dir, "work")}
	for _, d := range []string{g.root, g.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.url = "http://" + listener.Addr().String()
	g.server = &http.Server{Handler: &cgi.Handler{
		Path: gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1"},
	}}
	go func() { _ = g.server.Serve(listener) }()
	go func() {
		<-ctx.Done()
		_ = g.server.Close()
		_ = os.RemoveAll(dir)
	}()
	return g, nil
}

// Create makes an empty repository, and returns the URL to clone it from.
func (g *GitServer) Create(ctx context.Context, name string) (string, error) {
	bare := filepath.Join(g.root, name+".git")
	if err := g.git(ctx, "", "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return "", err
	}
	// Pushed to over smart HTTP with no authentication: the test's own server, on loopback.
	if err := g.git(ctx, bare, "config", "http.receivepack", "true"); err != nil {
		return "", err
	}
	work := filepath.Join(g.work, name)
	if err := g.git(ctx, "", "clone", "--quiet", bare, work); err != nil {
		return "", err
	}
	return g.URL(name), nil
}

// URL is the address a repository is cloned from.
func (g *GitServer) URL(name string) string { return g.url + "/" + name + ".git" }

// Commit writes files (path to content; nil content deletes) into the repository's working
// copy, commits them with message, and pushes; it returns the commit's hash.
func (g *GitServer) Commit(ctx context.Context, name, message string, files map[string][]byte) (string, error) {
	work := filepath.Join(g.work, name)
	for path, content := range files {
		full := filepath.Join(work, filepath.FromSlash(path))
		if content == nil {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, content, 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{
		{"add", "--all"},
		{"-c", "user.name=tranche-test", "-c", "user.email=test@tranche.invalid", "commit", "--quiet", "--allow-empty", "-m", message},
		{"push", "--quiet", "origin", "HEAD:main"},
	} {
		if err := g.git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	out, err := exec.CommandContext(ctx, "git", "-C", work, "rev-parse", "HEAD").Output()
	return strings.TrimSpace(string(out)), err
}

func (g *GitServer) git(ctx context.Context, dir string, args ...string) error {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	// The test's settings only: no user config, no system config, no prompts.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
