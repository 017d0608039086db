package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// A group's members decide from each other's status, and no object stands for the group:
// its view is made here, from the namespace's Rollouts that name it.

// Members returns the Rollouts among rollouts that are members of group in namespace, in
// the order they are released: a member after every member it comes after (spec.group.after),
// and by name where the order does not say. Members in a circle, which the controller stalls,
// come last, by name.
func Members(rollouts []trancheapi.Rollout, namespace, group string) []trancheapi.Rollout {
	var members []trancheapi.Rollout
	for _, ro := range rollouts {
		if ro.Namespace == namespace && ro.Spec.Group != nil && ro.Spec.Group.Name == group {
			members = append(members, ro)
		}
	}
	slices.SortFunc(members, func(a, b trancheapi.Rollout) int { return strings.Compare(a.Name, b.Name) })
	placed := map[string]bool{}
	ordered := make([]trancheapi.Rollout, 0, len(members))
	for len(ordered) < len(members) {
		next := slices.IndexFunc(members, func(ro trancheapi.Rollout) bool {
			return !placed[ro.Name] && !slices.ContainsFunc(ro.Spec.Group.After, func(o trancheapi.GroupOrder) bool {
				return !placed[o.Rollout] && slices.ContainsFunc(members, func(m trancheapi.Rollout) bool { return m.Name == o.Rollout })
			})
		})
		if next < 0 { // a circle: the rest by name
			for _, ro := range members {
				if !placed[ro.Name] {
					ordered = append(ordered, ro)
				}
			}
			break
		}
		placed[members[next].Name] = true
		ordered = append(ordered, members[next])
	}
	return ordered
}

// renderGroup writes the members of the group of the Rollout a view shows, each with where
// its rollout is and whom it comes after.
func renderGroup(w io.Writer, s style, v View) error {
	g := v.Rollout.Spec.Group
	if g == nil {
		return nil
	}
	fmt.Fprintf(w, "Group:      %s, released as one\n", g.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tPHASE\tSTEP\tWEIGHT\tAFTER")
	for i := range v.Members {
		m := &v.Members[i]
		name := m.Name
		if name == v.Rollout.Name {
			name += " (this)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d%%\t%s\n", name, s.phase(m.Status.Phase), stepOf(m), m.Status.CanaryWeight, after(m.Spec.Group))
	}
	return tw.Flush()
}

// after says whom a member comes after: "pay (1 step), ledger", or "-".
func after(g *trancheapi.Group) string {
	var parts []string
	for _, o := range g.After {
		switch {
		case o.Steps == nil:
			parts = append(parts, o.Rollout)
		case *o.Steps == 1:
			parts = append(parts, o.Rollout+" (1 step)")
		default:
			parts = append(parts, fmt.Sprintf("%s (%d steps)", o.Rollout, *o.Steps))
		}
	}
	return orDash(strings.Join(parts, ", "))
}
