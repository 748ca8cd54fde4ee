package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetscale/fleetscale/internal/plugin"
)

func newMCCommand(hub *hubOptions, s streams) *cobra.Command {
	mc := &cobra.Command{
		Use:     "mc",
		Aliases: []string{"member-clusters"},
		Short:   "Register, list and remove member clusters",
		Args:    noArgs,
	}
	mc.AddCommand(newSetupMemberCommand(hub, s), newListMembersCommand(hub, s), newDeleteMemberCommand(hub, s))
	return mc
}

// prompt is where a question may be answered: stdin when it is a terminal, else nobody.
func prompt(s streams) io.Reader {
	if s.Interactive {
		return s.In
	}
	return nil
}

func newSetupMemberCommand(hub *hubOptions, s streams) *cobra.Command {
	var (
		memberKubeconfig, memberContext, apiURL string
		targets, scaleGroups                    []string
		ttl                                     time.Duration
		yes, allowInsecure                      bool
	)
	cmd := &cobra.Command{
		Use:   "setup-member NAME --member-kubeconfig FILE [--member-api-url URL]",
		Short: "Register a member cluster with the hub",
		Long: `setup-member gives the hub least-privilege access to a member cluster and registers it.

In the member it creates the namespace (-n), a ServiceAccount of this registration there
(fleetscale-NAME-HASH, the hash naming the hub, its namespace and NAME, so registrations by
other hubs or under other names never share it), a bound token for it (TokenRequest,
--token-ttl), and RBAC that allows only what the hub uses: get/update/patch on */scale (any
API group, or those of --scale-api-groups); get/list/watch on deployments, statefulsets,
replicasets and pods; create/get/list/watch/delete on jobs; and, in its own namespace, create
on serviceaccounts/token for its own ServiceAccount so the hub can renew the token. No events,
no Secrets. The grant is cluster-wide (a ClusterRole of the same name) unless
--target-namespaces names the namespaces (Roles there; they must exist).

The member API URL must be https: a plain-http URL, or a member kubeconfig that skips TLS
verification, would expose the token and needs --allow-insecure.

In the hub it creates the namespace, a Secret fleetscale-member-NAME holding a kubeconfig for
that token, and a MemberCluster NAME pointing at it.

Running it again with the same options changes nothing and keeps the token while more than
half its lifetime remains. A different API URL for a registered member is replaced after a
confirmation (-y answers it; without a terminal, -y is required).`,
		Example: `  kubectl fleetscale mc setup-member k3d-member-1 \
    --keda-kubeconfig /tmp/keda-cluster --member-kubeconfig /tmp/member-cluster-1 \
    --member-api-url https://host.k3d.internal:65501`,
		Args: exactName,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if err := plugin.ValidateMemberName(args[0]); err != nil {
				return err
			}
			if memberKubeconfig == "" {
				return fmt.Errorf("--member-kubeconfig is required: the member cluster's admin kubeconfig")
			}
			hubCfg, err := plugin.LoadHubConfig(hub.HubFlags)
			if err != nil {
				return err
			}
			memberCfg, err := plugin.LoadMemberConfig(memberKubeconfig, memberContext)
			if err != nil {
				return err
			}
			_, err = plugin.SetupMember(cmd.Context(), plugin.SetupOptions{
				Name:             args[0],
				Namespace:        hub.Namespace,
				Hub:              hubCfg,
				Member:           memberCfg,
				MemberAPIURL:     apiURL,
				TargetNamespaces: targets,
				ScaleAPIGroups:   scaleGroups,
				AllowInsecure:    allowInsecure,
				TokenTTL:         ttl,
				Yes:              yes,
				In:               prompt(s),
				Out:              s.Out,
			})
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&memberKubeconfig, "member-kubeconfig", "", "admin kubeconfig of the member cluster (required)")
	f.StringVar(&memberContext, "member-context", "", "context of the member kubeconfig (default: its current context)")
	f.StringVar(&apiURL, "member-api-url", "", "the member's API server URL as the hub reaches it (default: the member kubeconfig's server)")
	f.StringSliceVar(&targets, "target-namespaces", nil, "limit the hub's access to these member namespaces (comma-separated; default: cluster-wide)")
	f.StringSliceVar(&scaleGroups, "scale-api-groups", nil, "limit the */scale grant to these API groups, e.g. apps,argoproj.io (\"core\" for the core group; default: any group, so CRD targets with a scale subresource work)")
	f.BoolVar(&allowInsecure, "allow-insecure", false, "accept a plain-http --member-api-url or a member kubeconfig with insecure-skip-tls-verify (the token is then exposed)")
	f.DurationVar(&ttl, "token-ttl", plugin.DefaultTokenTTL, "lifetime of the member token (at least 10m); the hub renews it before it expires")
	f.BoolVarP(&yes, "yes", "y", false, "replace a registration with another API URL without asking")
	_ = cmd.MarkFlagFilename("member-kubeconfig")
	return cmd
}

func newListMembersCommand(hub *hubOptions, s streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list-members",
		Short: "List the registered member clusters and their state",
		Long: `list-members prints the MemberClusters of the hub namespace with what the hub's last
probe saw. STATE is Ready when the Ready condition is True, else NotReady (also before the
first probe). -o wide adds the condition's reason and message and the probe latency; -o json
and -o yaml print a MemberClusterList.`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if err := plugin.ValidateOutput(output); err != nil {
				return err
			}
			hubCfg, err := plugin.LoadHubConfig(hub.HubFlags)
			if err != nil {
				return err
			}
			hc, err := plugin.NewHubClient(hubCfg)
			if err != nil {
				return err
			}
			list, err := plugin.ListMembers(cmd.Context(), hc, hub.Namespace)
			if err != nil {
				return plugin.DescribeError("hub", hubCfg, "list memberclusters", err)
			}
			if len(list.Items) == 0 && (output == "" || output == plugin.OutputTable || output == plugin.OutputWide) {
				// As kubectl get: the note goes to stderr, stdout stays empty.
				fmt.Fprintf(s.ErrOut, "No members registered in namespace %s.\n", hub.Namespace)
				return nil
			}
			return plugin.PrintMembers(s.Out, list, output, time.Now())
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", plugin.OutputTable, "output format: table, wide, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(plugin.OutputFormats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newDeleteMemberCommand(hub *hubOptions, s streams) *cobra.Command {
	var (
		memberKubeconfig, memberContext string
		yes                             bool
	)
	cmd := &cobra.Command{
		Use:   "delete-member NAME [--member-kubeconfig FILE]",
		Short: "Remove a member cluster's registration",
		Long: `delete-member removes the member's MemberCluster and kubeconfig Secret from the hub.

With --member-kubeconfig it also removes what setup-member created in the member for this
registration, and nothing of another hub's or another name's registration: the ServiceAccount
(which revokes its token at once), the ClusterRole/ClusterRoleBinding or Roles/RoleBindings,
and the namespace if setup-member created it and nothing else is in it (else the namespace
stays, and the command says so). Without it, the member keeps the ServiceAccount and
the token stays valid until it expires.

On a terminal it asks for confirmation unless -y; like kubectl delete, it asks nothing when
stdin is not a terminal.`,
		Args:              exactName,
		ValidArgsFunction: completeMembers(hub),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if err := plugin.ValidateMemberName(args[0]); err != nil {
				return err
			}
			hubCfg, err := plugin.LoadHubConfig(hub.HubFlags)
			if err != nil {
				return err
			}
			o := plugin.DeleteOptions{Name: args[0], Namespace: hub.Namespace, Hub: hubCfg, Yes: yes, In: prompt(s), Out: s.Out}
			if memberKubeconfig != "" {
				if o.Member, err = plugin.LoadMemberConfig(memberKubeconfig, memberContext); err != nil {
					return err
				}
			}
			_, err = plugin.DeleteMember(cmd.Context(), o)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&memberKubeconfig, "member-kubeconfig", "", "admin kubeconfig of the member cluster: also remove the member-side objects")
	f.StringVar(&memberContext, "member-context", "", "context of the member kubeconfig (default: its current context)")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	_ = cmd.MarkFlagFilename("member-kubeconfig")
	return cmd
}

// completeMembers completes a member name from the hub's MemberClusters.
func completeMembers(hub *hubOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		hubCfg, err := plugin.LoadHubConfig(hub.HubFlags)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		hc, err := plugin.NewHubClient(hubCfg)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := plugin.ListMembers(cmd.Context(), hc, hub.Namespace)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, m := range list.Items {
			names = append(names, m.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
