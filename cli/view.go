package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
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
	sortRollouts(list.Items)
	return list.Items, nil
}

// sortRollouts sorts Rollouts by namespace and name.
func sortRollouts(rollouts []trancheapi.Rollout) {
	slices.SortFunc(rollouts, func(a, b trancheapi.Rollout) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}

// LoadView reads a Rollout, its events and, when it is a member of a group, the group's
// other members.
func LoadView(ctx context.Context, c client.Client, key types.NamespacedName) (View, error) {
	ro, err := getRollout(ctx, c, key)
	if err != nil {
		return View{}, err
	}
	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace(key.Namespace)); err != nil {
		return View{}, fmt.Errorf("listing events: %w", err)
	}
	var others []trancheapi.Rollout
	if ro.Spec.Group != nil {
		if others, err = List(ctx, c, key.Namespace); err != nil {
			return View{}, err
		}
	}
	return viewOf(ro, events.Items, others), nil
}

// viewOf is the view of a Rollout with those of events that are about it (not about an
// earlier Rollout of the same name), oldest first, and the members of its group among
// rollouts.
func viewOf(ro *trancheapi.Rollout, events []eventsv1.Event, rollouts []trancheapi.Rollout) View {
	v := View{Rollout: ro}
	if g := ro.Spec.Group; g != nil {
		v.Members = Members(rollouts, ro.Namespace, g.Name)
	}
	for _, e := range events {
		if e.Regarding.Kind == "Rollout" && e.Regarding.Name == ro.Name && e.Regarding.UID == ro.UID {
			v.Events = append(v.Events, e)
		}
	}
	slices.SortStableFunc(v.Events, func(a, b eventsv1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return v
}

// clockTick is how often -w draws again what it last read, for the times it shows (ages,
// the time left of a hold): it reads nothing.
const clockTick = time.Second

// draw writes what render writes once.
func (o *Options) draw(render func(io.Writer) error) error {
	var frame bytes.Buffer
	if err := render(&frame); err != nil {
		return err
	}
	_, err := o.Streams.Out.Write(frame.Bytes())
	return err
}

// drawWatching writes what render writes whenever changed says what it shows changed, and
// every clockTick, until ctx ends; a frame is written only when its text changed: in place
// on a terminal, one after the other elsewhere. A render that fails shows the error, and
// the next change or tick renders again; nothing is drawn before the first list arrived.
func (o *Options) drawWatching(ctx context.Context, changed <-chan struct{}, render func(io.Writer) error) error {
	tick := time.NewTicker(clockTick)
	defer tick.Stop()
	var last []byte
	for {
		var frame bytes.Buffer
		err := render(&frame)
		if err != nil {
			frame.Reset()
			fmt.Fprintf(&frame, "error: %v (watching again)\n", err)
		}
		if !errors.Is(err, errNotListed) && !bytes.Equal(frame.Bytes(), last) {
			switch {
			case o.terminal():
				fmt.Fprint(o.Streams.Out, "\x1b[H\x1b[2J") // home, clear
			case last != nil:
				fmt.Fprintln(o.Streams.Out)
			}
			if _, err := o.Streams.Out.Write(frame.Bytes()); err != nil {
				return err
			}
			last = frame.Bytes()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
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
	var output, group string
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
			if group != "" && all {
				return errors.New("--group lists the members of a group of one namespace: drop --all-namespaces")
			}
			render := func(w io.Writer, rollouts []trancheapi.Rollout) error {
				if group != "" {
					rollouts = Members(rollouts, ns, group)
				}
				if output != "" {
					return printObject(w, &trancheapi.RolloutList{Items: rollouts}, output)
				}
				return RenderList(w, rollouts, all, time.Now(), o.color())
			}
			if !watch {
				return o.draw(func(w io.Writer) error {
					rollouts, err := List(cmd.Context(), c, ns)
					if err != nil {
						return err
					}
					return render(w, rollouts)
				})
			}
			rw := WatchRollouts(cmd.Context(), c, ns)
			return o.drawWatching(cmd.Context(), rw.Changed(), func(w io.Writer) error {
				rollouts, err := rw.Rollouts()
				if err != nil {
					return err
				}
				return render(w, rollouts)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the Rollouts of every namespace.")
	cmd.Flags().StringVar(&group, "group", "", "List only the members of this group (spec.group.name), in the order they are released.")
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
			render := func(w io.Writer, v View) error {
				if output != "" {
					return printObject(w, v.Rollout, output)
				}
				return RenderView(w, v, time.Now(), o.color())
			}
			if !watch {
				return o.draw(func(w io.Writer) error {
					v, err := LoadView(cmd.Context(), c, key)
					if err != nil {
						return err
					}
					return render(w, v)
				})
			}
			vw := WatchView(cmd.Context(), c, key)
			return o.drawWatching(cmd.Context(), vw.Changed(), func(w io.Writer) error {
				v, err := vw.View()
				if err != nil {
					return err
				}
				return render(w, v)
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
