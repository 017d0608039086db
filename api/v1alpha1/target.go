package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
)

// Tranche's scale of the target changes its spec, and so its generation, without changing
// what the controller knows of it: the revision and the owner's count stay as they were.
// Recording the new generation in status would cost a write for nothing, twice a release, so
// Tranche's scale writes instead, in the same write, the range of generations its own writes
// made (AnnotationOwnGenerations). A scale read at generation G claims G+1; when another
// write came between the read and the scale, the target is past G+1 and the claim never
// matches (Covers asks for the range to end at the target's generation).

// Covers reports whether this status, which recorded what the controller saw of the target at
// t.Generation, is about the target at generation: the same generation or an older one, or
// one that differs from it only by Tranche's own writes, as the target's annotations say.
func (t TargetStatus) Covers(generation int64, annotations map[string]string) bool {
	if t.Generation >= generation {
		return true
	}
	from, to, ok := OwnGenerations(annotations)
	return ok && to == generation && from <= t.Generation
}

// OwnGenerations reads AnnotationOwnGenerations: ok is false when the target has none, or
// one that does not parse.
func OwnGenerations(annotations map[string]string) (from, to int64, ok bool) {
	value, found := annotations[AnnotationOwnGenerations]
	if !found {
		return 0, 0, false
	}
	f, t, found := strings.Cut(value, "-")
	if !found {
		return 0, 0, false
	}
	from, errFrom := strconv.ParseInt(f, 10, 64)
	to, errTo := strconv.ParseInt(t, 10, 64)
	if errFrom != nil || errTo != nil || from < 1 || to <= from {
		return 0, 0, false
	}
	return from, to, true
}

// NextOwnGenerations is the AnnotationOwnGenerations a write by Tranche of the target read at
// generation gives it, claiming the next generation as the write's own: the range it had,
// grown by one when it ended at generation, else a new one.
func NextOwnGenerations(annotations map[string]string, generation int64) string {
	from := generation
	if f, to, ok := OwnGenerations(annotations); ok && to == generation {
		from = f
	}
	return fmt.Sprintf("%d-%d", from, generation+1)
}
