// Package threfresh is the thRefresh Cloud Function: the scheduled sweep
// that keeps long-lived Threads tokens alive. Cloud Scheduler calls it with
// an OIDC token of a dedicated invoker service account.
package threfresh

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/tokens"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thRefresh"

// Options are what thRefresh needs: tokens, the Graph API and the scheduler identity.
var Options = app.Options{Needs: config.Needs{Tokens: true, Graph: true, Scheduler: true}}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	s := &Server{
		Verifier:  d.SchedulerVerifier,
		Store:     d.Store,
		Refresher: &tokens.Refresher{Store: d.Store, Threads: d.Threads},
		Window:    d.Config.RefreshWindow,
	}
	rt := d.Route(http.MethodPost, http.MethodGet)
	rt.AllowOrigin = nil // Cloud Scheduler, never a browser
	return rt.Handler(s.Handle), nil
}
