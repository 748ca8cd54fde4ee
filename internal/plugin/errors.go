package plugin

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
)

// cluster names one side of a command in messages: "hub" or "member", and its URL.
type cluster struct {
	role string
	host string
}

func clusterOf(role string, cfg *rest.Config) cluster {
	return cluster{role: role, host: strings.TrimSuffix(cfg.Host, "/")}
}

// wrap turns a request error into one line that says which cluster failed and why: the URL
// when the cluster cannot be reached, the verb and resource when it refuses (403), the
// credentials when it does not know them (401). what describes the attempted action, e.g.
// "create serviceaccount keda/fleetscale". The original error stays reachable with errors.As.
func (c cluster) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	switch {
	case apierrors.IsForbidden(err):
		// The apiserver's message names user, verb, resource and namespace:
		// `... is forbidden: User "u" cannot create resource "serviceaccounts" in API group "" ...`.
		return &clusterError{fmt.Sprintf("permission denied in the %s cluster at %s: %s", c.role, c.host, statusMessage(err)), err}
	case apierrors.IsUnauthorized(err):
		return &clusterError{fmt.Sprintf("the %s cluster at %s rejected the credentials (401 Unauthorized) trying to %s", c.role, c.host, what), err}
	case errors.As(err, &ue):
		return &clusterError{fmt.Sprintf("cannot reach the %s cluster at %s: %s", c.role, c.host, oneLine(ue.Err)), err}
	}
	return &clusterError{fmt.Sprintf("%s cluster at %s: %s: %s", c.role, c.host, what, oneLine(err)), err}
}

// DescribeError turns an error of a request to the hub or a member (role "hub" or "member")
// into one line naming the cluster's URL, as the commands print it. action says what was
// attempted ("list memberclusters").
func DescribeError(role string, cfg *rest.Config, action string, err error) error {
	if err == nil {
		return nil
	}
	c := clusterOf(role, cfg)
	if role == "hub" && isMissingAPI(err) {
		return missingCRDError(c)
	}
	return c.wrap(action, err)
}

// clusterError is a one-line message over the original error.
type clusterError struct {
	msg string
	err error
}

func (e *clusterError) Error() string { return e.msg }
func (e *clusterError) Unwrap() error { return e.err }

func statusMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return oneLine(errors.New(se.Status().Message))
	}
	return oneLine(err)
}

// oneLine collapses a multi-line error message: every failure is one line on stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// ErrAborted is returned when the user answers no to a confirmation.
var ErrAborted = errors.New("aborted")
