// Package tasks enqueues work on a Cloud Tasks queue and authenticates the
// deliveries that come back.
//
// Enqueuer creates HTTP-target tasks with the real Cloud Tasks client: each
// task POSTs a JSON body to the configured target URL with an OIDC ID token of
// the configured service account. Tasks are named by the caller, so enqueueing
// the same work twice is a no-op on the queue (ErrAlreadyQueued).
//
// Verifier checks the token of a delivery. Anyone can send headers that look
// like Cloud Tasks' own (X-CloudTasks-*); only a valid, Google-signed ID token
// for the expected audience and service account proves a delivery genuine.
//
// Locally no Cloud Tasks emulator exists: fakes/cloudtasksfake stands in for
// it, and Config.EmulatorHost points both the Enqueuer and the Verifier's key
// set (Config.JWKSURL) at it.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"threadsfunctions.dev/shared/jws"
)

// ErrAlreadyQueued reports that a task of the same name exists or existed
// recently: the work is already queued (or done), and a second enqueue is a
// no-op. Callers usually ignore it; test with errors.Is.
var ErrAlreadyQueued = errors.New("tasks: task already queued")

// Queue enqueues tasks. *Enqueuer implements it; tests may fake it.
type Queue interface {
	Enqueue(ctx context.Context, t Task) error
}

var _ Queue = (*Enqueuer)(nil)

// Task is one unit of work to deliver to the target URL.
type Task struct {
	// ID is derived by the caller from the work, so the same work gets the
	// same ID. The task's name is Queue+"/tasks/"+ID. It must match
	// [A-Za-z0-9_-]{1,500}.
	ID string
	// Body is JSON, POSTed to the target URL with Content-Type: application/json.
	Body []byte
	// ScheduleTime is when to deliver; zero means now.
	ScheduleTime time.Time
}

// maxTaskID is the longest task ID Cloud Tasks accepts.
const maxTaskID = 500

// validTaskID reports whether id matches [A-Za-z0-9_-]{1,500}. (A loop, not
// a regexp: the bounded repetition would be expanded at every cold start.)
func validTaskID(id string) bool {
	if id == "" || len(id) > maxTaskID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Enqueuer creates tasks on one queue with the real Cloud Tasks client. It is
// safe for concurrent use.
type Enqueuer struct {
	cfg    Config
	client *cloudtasks.Client
}

// NewEnqueuer validates cfg and builds the real Cloud Tasks client. With
// cfg.EmulatorHost set it dials that address in plaintext without
// credentials; opts are appended after (tests pass a fake's ClientOptions).
func NewEnqueuer(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Enqueuer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tasks: invalid config: %w", err)
	}
	// No default OpenTelemetry instrumentation: nothing exports it, and it
	// costs CPU on every call.
	all := []option.ClientOption{option.WithTelemetryDisabled()}
	if cfg.EmulatorHost != "" {
		all = append(all,
			option.WithEndpoint(cfg.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		)
	}
	all = append(all, opts...)
	client, err := cloudtasks.NewClient(ctx, all...)
	if err != nil {
		return nil, fmt.Errorf("tasks: cloud tasks client: %w", err)
	}
	return &Enqueuer{cfg: cfg, client: client}, nil
}

// Close releases the client's connection.
func (e *Enqueuer) Close() error {
	if err := e.client.Close(); err != nil {
		return fmt.Errorf("tasks: close client: %w", err)
	}
	return nil
}

// Enqueue creates t on the queue: an HTTP task that POSTs t.Body to the
// target URL with an OIDC token of the configured service account whose
// audience is the target URL. If a task of the same name exists or existed
// recently, it returns an error wrapping ErrAlreadyQueued and the queue is
// unchanged. A malformed ID or a body that is not valid JSON is refused
// before any call.
func (e *Enqueuer) Enqueue(ctx context.Context, t Task) error {
	if !validTaskID(t.ID) {
		return fmt.Errorf("tasks: invalid task ID %q: want [A-Za-z0-9_-]{1,500}", jws.Truncate(t.ID, 64))
	}
	if !json.Valid(t.Body) {
		return fmt.Errorf("tasks: task %s: body is not valid JSON", t.ID)
	}
	task := &cloudtaskspb.Task{
		Name: e.cfg.Queue + "/tasks/" + t.ID,
		MessageType: &cloudtaskspb.Task_HttpRequest{
			HttpRequest: &cloudtaskspb.HttpRequest{
				Url:        e.cfg.TargetURL,
				HttpMethod: cloudtaskspb.HttpMethod_POST,
				Headers:    map[string]string{"Content-Type": "application/json"},
				Body:       t.Body,
				AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{
					OidcToken: &cloudtaskspb.OidcToken{
						ServiceAccountEmail: e.cfg.ServiceAccount,
						Audience:            e.cfg.TargetURL,
					},
				},
			},
		},
	}
	if !t.ScheduleTime.IsZero() {
		task.ScheduleTime = timestamppb.New(t.ScheduleTime)
	}
	_, err := e.client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: e.cfg.Queue, Task: task})
	switch {
	case err == nil:
		return nil
	case status.Code(err) == codes.AlreadyExists:
		return fmt.Errorf("tasks: task %s: %w", t.ID, ErrAlreadyQueued)
	default:
		return fmt.Errorf("tasks: create task %s: %w", t.ID, err)
	}
}
