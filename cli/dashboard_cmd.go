package cli

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// dashboardPort is where `kubectl tranche dashboard` listens unless told otherwise.
const dashboardPort = 3170

func newDashboardCommand(o *Options) *cobra.Command {
	var all, readOnly bool
	var port int
	var team teamFlags
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve a web page of the Rollouts on 127.0.0.1: live, with the steps, traffic, checks, events and the requests",
		Long: "Serve a web page on 127.0.0.1 that shows the Rollouts of the namespace (or, with -A, of all namespaces)\n" +
			"as the API server changes them, and sends promote, abort, retry, pause and resume as the commands do,\n" +
			"with your kubeconfig. Open the address it prints. Only that page can act through it; --read-only allows no action.\n\n" +
			"With --serve, serve it to a team instead: each person signs in with their own Kubernetes credentials\n" +
			"(--auth=token: a bearer token; --auth=proxy: an authenticating proxy in front names them) and the\n" +
			"dashboard acts as them, so that each sees and may press what their RBAC allows.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if team.address != "" {
				return team.serve(cmd, o, readOnly)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			opts := DashboardOptions{ReadOnly: readOnly}
			what := "all namespaces"
			if !all {
				ns, err := o.namespace()
				if err != nil {
					return err
				}
				opts.Namespaces, what = []string{ns}, "namespace "+ns
			}
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("listening for the dashboard: %w (--port picks another port, 0 any free one)", err)
			}
			d, err := NewDashboard(c, opts)
			if err != nil {
				return err
			}
			if readOnly {
				what += ", read-only"
			}
			fmt.Fprintf(o.Streams.Out, "Tranche dashboard of %s: http://%s/ (interrupt to stop)\n", what, l.Addr())
			return d.Serve(cmd.Context(), l)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "Show the Rollouts of every namespace.")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "Show the Rollouts only: no button, and every request refused.")
	cmd.Flags().IntVar(&port, "port", dashboardPort, "The port to listen on, on 127.0.0.1 (0: any free port).")
	team.add(cmd)
	return cmd
}

// teamFlags say how to serve the dashboard to a team.
type teamFlags struct {
	address, auth, userHeader, groupsHeader string
	namespaces                              []string
	certFile, keyFile                       string
	sessionTTL, sessionIdle                 time.Duration
}

func (f *teamFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.address, "serve", "", "Serve the dashboard to a team on this address (such as :3170), each person acting as themselves (see --auth).")
	fs.StringVar(&f.auth, "auth", string(AuthToken), "With --serve, how people sign in: token (a bearer token the API server accepts) or proxy (an authenticating proxy in front names the user; the dashboard impersonates them and listens on loopback only).")
	fs.StringVar(&f.userHeader, "user-header", "X-Forwarded-User", "With --auth=proxy, the header the proxy names the user in.")
	fs.StringVar(&f.groupsHeader, "groups-header", "X-Forwarded-Groups", "With --auth=proxy, the header the proxy names the user's groups in (comma-separated; empty for none).")
	fs.StringSliceVar(&f.namespaces, "namespaces", nil, "With --serve, the namespaces shown, of those each person may read Rollouts in (default: every namespace).")
	fs.StringVar(&f.certFile, "tls-cert-file", "", "With --serve, serve HTTPS with this certificate (PEM) and --tls-key-file.")
	fs.StringVar(&f.keyFile, "tls-key-file", "", "The key of --tls-cert-file (PEM).")
	fs.DurationVar(&f.sessionTTL, "session-ttl", 8*time.Hour, "With --serve, how long a session lasts from its sign-in.")
	fs.DurationVar(&f.sessionIdle, "session-idle", time.Hour, "With --serve, how long an unused session lasts.")
}

// serve serves the dashboard to a team until the command's context ends.
func (f *teamFlags) serve(cmd *cobra.Command, o *Options, readOnly bool) error {
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return err
	}
	team, err := NewTeam(TeamOptions{
		Config: cfg, Auth: Auth(f.auth), UserHeader: f.userHeader, GroupsHeader: f.groupsHeader,
		Namespaces: f.namespaces, ReadOnly: readOnly, SessionTTL: f.sessionTTL, SessionIdle: f.sessionIdle,
	})
	if err != nil {
		return err
	}
	var config *tls.Config
	if f.certFile != "" || f.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return fmt.Errorf("reading --tls-cert-file and --tls-key-file: %w", err)
		}
		config = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", f.address)
	if err != nil {
		return fmt.Errorf("listening for the dashboard: %w", err)
	}
	scheme := "http"
	if config != nil {
		scheme = "https"
	}
	fmt.Fprintf(o.Streams.Out, "Tranche dashboard served to a team (--auth=%s) on %s://%s/ (interrupt to stop)\n", f.auth, scheme, l.Addr())
	return team.Serve(cmd.Context(), l, config)
}
