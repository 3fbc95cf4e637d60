// An empty stand-in for libguestfs.org/libnbd, which the Go module proxy does not serve.
// kubevirt.io/kubevirt requires it for virt-launcher only; virt-api and virt-controller
// never import it.
module libguestfs.org/libnbd

go 1.24.0
