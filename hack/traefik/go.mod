// This go.mod only fences the patch files below off from Tranche's module: they compile only
// inside the copies that hack/build-traefik.sh makes in bin/.build/, never here.
module tranche.dev/hack/traefik-patches

go 1.26.0
