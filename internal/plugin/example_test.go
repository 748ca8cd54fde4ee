package plugin_test

import (
	"context"
	"fmt"
	"os"

	"github.com/fleetscale/fleetscale/internal/plugin"
)

// Register a member as `kubectl fleetscale mc setup-member k3d-member-1 --keda-kubeconfig
// /tmp/keda-cluster --member-kubeconfig /tmp/member-cluster-1` does.
func ExampleSetupMember() {
	hub, err := plugin.LoadHubConfig(plugin.HubFlags{KedaKubeconfig: "/tmp/keda-cluster"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return
	}
	member, err := plugin.LoadMemberConfig("/tmp/member-cluster-1", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return
	}
	res, err := plugin.SetupMember(context.Background(), plugin.SetupOptions{
		Name:         "k3d-member-1",
		Hub:          hub,
		Member:       member,
		MemberAPIURL: "https://host.k3d.internal:65501",
		Out:          os.Stdout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return
	}
	fmt.Println("token expires", res.TokenExpiration)
}
