// etcd for the real-server test tier: the upstream etcd server's own entry point, built at the version
// the pinned Kubernetes release requires (go.etcd.io/etcd/server/v3), so no separate etcd download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
