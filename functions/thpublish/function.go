// Package thpublish is the thPublish Cloud Function: it publishes posts to a
// user's connected Threads account, exactly once, retrying transient
// failures through Cloud Tasks.
package thpublish

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/tasks"
)

// Name is the function's entry point and its path in the local runner.
const Name = "thPublish"

// Options are what thPublish needs from its instance.
var Options = app.Options{Needs: config.Needs{Tokens: true, Graph: true, Tasks: true}, Auth: true}

func init() {
	functions.HTTP(Name, app.Lazy(Name, Options, NewHandler))
}

// Methods are the HTTP methods thPublish accepts: POST publishes (or
// schedules), DELETE cancels a scheduled post.
var Methods = []string{http.MethodPost, http.MethodDelete}

// NewHandler builds the function's handler from an instance's dependencies.
func NewHandler(d *app.Deps) (http.Handler, error) {
	return d.Route(Methods...).Handler(NewServer(d).Handle), nil
}

// NewServer builds the function's Server from an instance's dependencies.
func NewServer(d *app.Deps) *Server {
	return &Server{
		Verifier:     d.Auth,
		TaskVerifier: d.TaskVerifier,
		Store:        d.Store,
		Engine:       &publish.Engine{Store: d.Store, Threads: d.Threads},
		Tasks:        QueueEnqueuer{Queue: d.Tasks},
		GIFs:         d.Config.GIFAttachments,
	}
}

// QueueEnqueuer adapts a tasks.Queue to the Server's Enqueuer: a task that
// is already queued counts as enqueued.
type QueueEnqueuer struct{ Queue tasks.Queue }

// Enqueue creates the task; a duplicate is a no-op.
func (q QueueEnqueuer) Enqueue(ctx context.Context, id string, body []byte, at time.Time) error {
	err := q.Queue.Enqueue(ctx, tasks.Task{ID: id, Body: body, ScheduleTime: at})
	if errors.Is(err, tasks.ErrAlreadyQueued) {
		return nil
	}
	return err
}
