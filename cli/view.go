package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// List reads the Rollouts of a namespace ("" for all), sorted by namespace and name.
func List(ctx context.Context, c client.Client, namespace string) ([]trancheapi.Rollout, error) {
	var list trancheapi.RolloutList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing rollouts: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b trancheapi.Rollout) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return list.Items, nil
}

// LoadView reads a Rollout and its events.
func LoadView(ctx context.Context, c client.Client, key types.NamespacedName) (View, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return View{}, err
	}
	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace(key.Namespace)); err != nil {
		return View{}, fmt.Errorf("listing events: %w", err)
	}
	v := View{Rollout: ro}
	for _, e := range events.Items {
		if e.Regarding.Kind == "Rollout" && e.Regarding.Name == ro.Name && e.Regarding.UID == ro.UID {
			v.Events = append(v.Events, e)
		}
	}
	slices.SortStableFunc(v.Events, func(a, b eventsv1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return v, nil
}

// watchInterval is how often -w reads again.
const watchInterval = time.Second

// draw renders what render writes once, or with watch every watchInterval until ctx ends,
// drawing again only when the text changed: in place on a terminal, one frame after the
// other elsewhere. While watching, a failed read is shown and tried again.
func (o *Options) draw(ctx context.Context, watch bool, render func(io.Writer) error) error {
	var last []byte
	for {
		var frame bytes.Buffer
		if err := render(&frame); err != nil {
			switch {
			case !watch:
				return err
			case ctx.Err() != nil:
				return nil // interrupted
			}
			frame.Reset()
			fmt.Fprintf(&frame, "error: %v (trying again every %s)\n", err, watchInterval)
		}
		if !bytes.Equal(frame.Bytes(), last) {
			switch {
			case watch && o.terminal():
				fmt.Fprint(o.Streams.Out, "\x1b[H\x1b[2J") // home, clear
			case last != nil:
				fmt.Fprintln(o.Streams.Out)
			}
			if _, err := o.Streams.Out.Write(frame.Bytes()); err != nil {
				return err
			}
			last = frame.Bytes()
		}
		if !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watchInterval):
		}
	}
}

// printObject writes obj as json or yaml, with its apiVersion and kind.
func printObject(w io.Writer, obj runtime.Object, format string) error {
	gvks, _, err := Scheme().ObjectKinds(obj)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	data, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	switch format {
	case "json":
		_, err = fmt.Fprintln(w, string(data))
	case "yaml":
		if data, err = yaml.JSONToYAML(data); err == nil {
			_, err = w.Write(data)
		}
	default:
		err = fmt.Errorf("unknown output format %q: use json or yaml", format)
	}
	return err
}

func newListCommand(o *Options) *cobra.Command {
	var all, watch bool
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the Rollouts: phase, step, weight, revisions and the latest checks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ns := ""
			if !all {
				if ns, err = o.namespace(); err != nil {
					return err
				}
			}
			return o.draw(cmd.Context(), watch, func(w io.Writer) error {
				rollouts, err := List(cmd.Context(), c, ns)
				if err != nil {
					return err
				}
				if output != "" {
					return printObject(w, &trancheapi.RolloutList{Items: rollouts}, output)
				}
				return RenderList(w, rollouts, all, time.Now(), o.color())
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the Rollouts of every namespace.")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "Keep the list up to date until interrupted.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Print the objects as json or yaml instead of a table.")
	return cmd
}

func newGetCommand(o *Options) *cobra.Command {
	var watch bool
	var output string
	cmd := &cobra.Command{
		Use:               "get ROLLOUT",
		Short:             "Show a Rollout: its steps, traffic, checks against their thresholds, conditions and events",
		Args:              oneRollout,
		ValidArgsFunction: o.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, key, err := o.rollout(args[0])
			if err != nil {
				return err
			}
			return o.draw(cmd.Context(), watch, func(w io.Writer) error {
				v, err := LoadView(cmd.Context(), c, key)
				if err != nil {
					return err
				}
				if output != "" {
					return printObject(w, v.Rollout, output)
				}
				return RenderView(w, v, time.Now(), o.color())
			})
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "Keep the view up to date until interrupted.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Print the object as json or yaml instead of the view.")
	return cmd
}

func newStatusCommand(o *Options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status ROLLOUT",
		Short: "Wait until the rollout of the target's current revision ends; fail unless it was promoted",
		Long: "Wait until the rollout of the revision the target Deployment runs now has ended, printing its progress.\n" +
			"Exits 0 once that revision serves all traffic, 1 when it failed, was aborted or the Rollout is stalled,\n" +
			"and 1 after --timeout: for CI pipelines.",
		Args:              oneRollout,
		ValidArgsFunction: o.completeRollouts,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, key, err := o.rollout(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			out, err := Wait(ctx, c, key, func(msg string) { fmt.Fprintln(o.Streams.Out, msg) })
			if err != nil {
				return err
			}
			if !out.Succeeded {
				return fmt.Errorf("rollout %s did not succeed", key.Name)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "Give up after this long (0: wait for ever).")
	return cmd
}
