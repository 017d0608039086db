package cli

import (
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/cobra"
)

// dashboardPort is where `kubectl tranche dashboard` listens unless told otherwise.
const dashboardPort = 3170

func newDashboardCommand(o *Options) *cobra.Command {
	var all, readOnly bool
	var port int
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve a web page of the Rollouts on 127.0.0.1: live, with the steps, traffic, checks, events and the requests",
		Long: "Serve a web page on 127.0.0.1 that shows the Rollouts of the namespace (or, with -A, of all namespaces)\n" +
			"as the API server changes them, and sends promote, abort, retry, pause and resume as the commands do,\n" +
			"with your kubeconfig. Open the address it prints. Only that page can act through it; --read-only allows no action.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			opts := DashboardOptions{ReadOnly: readOnly}
			if !all {
				if opts.Namespace, err = o.namespace(); err != nil {
					return err
				}
			}
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("listening for the dashboard: %w (--port picks another port, 0 any free one)", err)
			}
			d, err := NewDashboard(c, opts)
			if err != nil {
				return err
			}
			what := "namespace " + opts.Namespace
			if all {
				what = "all namespaces"
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
	return cmd
}
