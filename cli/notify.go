package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tranche-dev/tranche/notify"
)

// notifyTestRollout names the Rollout of the sample news, so that nobody takes them for a
// real rollout's.
const notifyTestRollout = "tranche-notify-test"

// NotifyTest sends a sample of each kind of news to the NotificationProvider key names, as
// the manager would send it (the same message types and templates), once each and without
// the manager: the provider and its Secret are read with the caller's credentials. It
// returns a line per kind saying what happened, and an error when any was not delivered.
func NotifyTest(ctx context.Context, c client.Reader, key types.NamespacedName, cluster string, kinds []notify.Kind, httpClient *http.Client) ([]string, error) {
	target, err := notify.ReadTarget(ctx, c, key)
	if err != nil {
		return nil, err
	}
	d := &notify.Dispatcher{HTTP: httpClient}
	var lines []string
	failed := 0
	for _, kind := range kinds {
		n := notify.Sample(kind)
		n.Namespace, n.Rollout, n.Cluster = key.Namespace, notifyTestRollout, cluster
		switch err := d.SendNow(ctx, target, n); {
		case err == nil:
			lines = append(lines, fmt.Sprintf("%-16s sent", kind))
		case errors.Is(err, notify.ErrOwnWords):
			lines = append(lines, fmt.Sprintf("%-16s %v", kind, err))
		default:
			failed++
			lines = append(lines, fmt.Sprintf("%-16s not delivered: %v", kind, err))
		}
	}
	if failed > 0 {
		return lines, fmt.Errorf("%d of %d messages to NotificationProvider %s were not delivered", failed, len(kinds), key.Name)
	}
	return lines, nil
}

func newNotifyCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Try NotificationProviders out",
		Args:  cobra.NoArgs,
	}
	var cluster string
	var kinds []string
	test := &cobra.Command{
		Use:   "test PROVIDER",
		Short: "Send a sample of each kind of news to a NotificationProvider, shaped by its templates",
		Long: "Send a sample of each kind of news (Started, StepReached, WaitingApproval, Promoted, RolledBack, Aborted, Undone,\n" +
			"AnalysisFailing, DryRunFailing, Stalled) to a NotificationProvider, as the manager would, about a Rollout named " + notifyTestRollout + ".\n" +
			"It reads the provider and its Secret with your credentials and sends from this machine.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("notify test takes the name of one NotificationProvider: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			chosen := notify.Kinds
			if len(kinds) > 0 {
				chosen = nil
				for _, k := range kinds {
					if !slices.Contains(notify.Kinds, notify.Kind(k)) {
						return fmt.Errorf("--kind %q is no kind of news: use %s", k, kindList())
					}
					chosen = append(chosen, notify.Kind(k))
				}
			}
			lines, err := NotifyTest(cmd.Context(), c, types.NamespacedName{Namespace: ns, Name: args[0]}, cluster, chosen, nil)
			for _, line := range lines {
				fmt.Fprintln(o.Streams.Out, line)
			}
			return err
		},
	}
	test.Flags().StringVar(&cluster, "cluster", "", "The cluster's name in the messages, as the manager's --cluster-name gives it.")
	test.Flags().StringSliceVar(&kinds, "kind", nil, "Send only these kinds of news (repeat, or separate with commas): "+kindList()+".")
	cmd.AddCommand(test)
	return cmd
}

func kindList() string {
	var names []string
	for _, k := range notify.Kinds {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
