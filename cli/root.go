// Package cli is `kubectl tranche`: commands to watch Rollouts and to ask the controller to
// promote, abort, retry, pause or resume them. Each command parses its flags and calls an
// exported function that takes a client (Promote, Wait, List, ...): tests call those.
package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// Options are what every command shares: the standard kubectl flags and the output streams.
type Options struct {
	Flags   *genericclioptions.ConfigFlags
	Streams genericiooptions.IOStreams
	noColor bool
}

// NewCommand builds `kubectl tranche` and its commands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{Flags: genericclioptions.NewConfigFlags(true), Streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-tranche",
		Short: "Watch and steer Tranche Rollouts",
		Long: "Watch Tranche Rollouts and ask the controller to promote, abort, retry, pause or resume them.\n" +
			"Requests are annotations the controller reads; they never change the spec, which Git owns.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl tranche"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.Flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVar(&o.noColor, "no-color", false, "Never colour the output (it is coloured only on a terminal anyway).")
	root.AddCommand(
		newListCommand(o), newGetCommand(o), newStatusCommand(o),
		newPromoteCommand(o), newAbortCommand(o), newRetryCommand(o), newUndoCommand(o), newPauseCommand(o), newResumeCommand(o),
		newDashboardCommand(o), newLintCommand(o), newReplayCommand(o), newNotifyCommand(o), newVersionCommand(o),
	)
	return root
}

// Scheme knows the types the commands read: Tranche's and Kubernetes' own.
func Scheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(trancheapi.AddToScheme(scheme))
	return scheme
}

// client connects to the cluster the kubectl flags name; it can watch, for -w.
func (o *Options) client() (client.WithWatch, error) {
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
}

// namespace is -n, else the kubeconfig context's namespace, else "default".
func (o *Options) namespace() (string, error) {
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// rollout connects to the cluster and names the Rollout called name in the namespace the
// flags say.
func (o *Options) rollout(name string) (client.WithWatch, types.NamespacedName, error) {
	c, err := o.client()
	if err != nil {
		return nil, types.NamespacedName{}, err
	}
	ns, err := o.namespace()
	return c, types.NamespacedName{Namespace: ns, Name: name}, err
}

// terminal reports whether the output goes to a terminal.
func (o *Options) terminal() bool {
	f, ok := o.Streams.Out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// color reports whether output may be coloured: on a terminal, unless --no-color.
func (o *Options) color() bool { return !o.noColor && o.terminal() }

// completeRollouts completes a Rollout name from the namespace the flags name.
func (o *Options) completeRollouts(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := o.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var list trancheapi.RolloutList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, ro := range list.Items {
		names = append(names, ro.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// oneRollout accepts exactly one argument, the Rollout's name, and says so otherwise.
func oneRollout(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes the name of one Rollout: %s", cmd.Name(), cmd.UseLine())
	}
	return nil
}

// requestCommand builds a command that sends one request about one Rollout.
func requestCommand(o *Options, use, short string, send func(context.Context, client.Client, types.NamespacedName) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:               use + " ROLLOUT",
		Short:             short,
		Args:              oneRollout,
		ValidArgsFunction: o.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, key, err := o.rollout(args[0])
			if err != nil {
				return err
			}
			msg, err := send(cmd.Context(), c, key)
			if err != nil {
				return err
			}
			fmt.Fprintln(o.Streams.Out, msg)
			return nil
		},
	}
}

func newPromoteCommand(o *Options) *cobra.Command {
	var full bool
	cmd := requestCommand(o, "promote", "Pass the manual gate the rollout waits at (--full: skip the remaining steps)",
		func(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
			return Promote(ctx, c, key, full)
		})
	cmd.Flags().BoolVar(&full, "full", false, "Skip the remaining steps and analysis and promote at once.")
	return cmd
}

func newAbortCommand(o *Options) *cobra.Command {
	return requestCommand(o, "abort", "Roll the canary back; it is not tried again until the target changes or a retry", Abort)
}

func newRetryCommand(o *Options) *cobra.Command {
	return requestCommand(o, "retry", "Roll out again the revision that failed or was aborted", Retry)
}

func newUndoCommand(o *Options) *cobra.Command {
	return requestCommand(o, "undo", "Put the revision the primary ran before its current one back on all traffic at once (an incident after a promotion)", Undo)
}

func newPauseCommand(o *Options) *cobra.Command {
	return requestCommand(o, "pause", "Hold the rollout where it is", Pause)
}

func newResumeCommand(o *Options) *cobra.Command {
	return requestCommand(o, "resume", "Release a paused rollout", Resume)
}
