// Package logging writes structured logs in the JSON format Cloud Logging
// understands (severity, message, trace), with log/slog.
//
// Cloud Functions (2nd gen) forwards each JSON line written to stdout or
// stderr to Cloud Logging, reading "severity", "message" and the special
// "logging.googleapis.com/..." fields. Loggers travel in the request context,
// carrying the request's trace, so every line of one request can be found
// together.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

// Special field names of Cloud Logging's structured logging.
const (
	TraceKey        = "logging.googleapis.com/trace"
	SpanKey         = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// New returns a logger writing Cloud Logging JSON lines to w.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: replaceAttr,
	}))
}

func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		if lvl, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(severity(lvl))
		}
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

type ctxKey struct{}

// NewContext returns ctx carrying logger.
func NewContext(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, logger)
}

// FromContext returns the context's logger, or slog.Default() when there is none.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

var (
	cloudTraceRe  = regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/([0-9]+))?(?:;o=([01]))?$`)
	traceparentRe = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)
)

// TraceAttrs returns the Cloud Logging trace fields for a request, read from
// X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1") or, failing that, the W3C
// traceparent header. It returns nil when the request carries no trace.
func TraceAttrs(r *http.Request, projectID string) []any {
	var traceID, spanID string
	var sampled bool
	if m := cloudTraceRe.FindStringSubmatch(strings.TrimSpace(r.Header.Get("X-Cloud-Trace-Context"))); m != nil {
		traceID, spanID, sampled = strings.ToLower(m[1]), m[2], m[3] == "1"
	} else if m := traceparentRe.FindStringSubmatch(strings.TrimSpace(r.Header.Get("traceparent"))); m != nil {
		traceID, spanID, sampled = m[1], m[2], m[3] == "01"
	}
	if traceID == "" || projectID == "" {
		return nil
	}
	attrs := []any{slog.String(TraceKey, "projects/"+projectID+"/traces/"+traceID)}
	if spanID != "" {
		attrs = append(attrs, slog.String(SpanKey, spanID))
	}
	return append(attrs, slog.Bool(TraceSampledKey, sampled))
}

// RequestContext returns r's context carrying base enriched with the
// request's trace, so that every line logged while serving r is grouped
// with it in Cloud Logging.
func RequestContext(r *http.Request, base *slog.Logger, projectID string) context.Context {
	l := base
	if attrs := TraceAttrs(r, projectID); attrs != nil {
		l = base.With(attrs...)
	}
	return NewContext(r.Context(), l)
}
