// Package shop is what the two Go web recordings share: the capture
// endpoint's run naming, a traced service (OTel Go SDK over OTLP/HTTP), the
// orders database on a real PostgreSQL behind pgx with the otelpgx tracer,
// and plain (uninstrumented) HTTP servers standing in for third parties.
package shop

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Capture is the capture endpoint (test/sdks/capture) the recordings go to.
type Capture struct{ Base string }

// NameRun tells the capture endpoint that the spans after it are run name.
func (c Capture) NameRun(name string) error {
	resp, err := http.Post(c.Base+"/run?name="+url.QueryEscape(name), "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("capture /run %s: %s", name, resp.Status)
	}
	return nil
}

// Provider is a service's tracer provider exporting to the capture
// endpoint, as `otlptracehttp.New` + a batch span processor would in any
// Go service. W3C trace context is propagated between the services.
func (c Capture) Provider(ctx context.Context, service string) (*sdktrace.TracerProvider, error) {
	u, err := url.Parse(c.Base)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithInsecure())
	if err != nil {
		return nil, err
	}
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", service),
			attribute.String("deployment.environment.name", "recording"),
		)),
	), nil
}

// Flush exports what the providers hold, so a run's spans are all sent
// before the next run is named.
func Flush(ctx context.Context, tps ...*sdktrace.TracerProvider) error {
	for _, tp := range tps {
		if err := tp.ForceFlush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// dbName is the database the recordings create and drop on the server.
const dbName = "argus_shop_recording"

// Order is one row of the orders table.
type Order struct {
	ID         int    `json:"id"`
	Customer   string `json:"customer"`
	SKU        string `json:"sku"`
	Status     string `json:"status"`
	TotalCents int    `json:"total_cents"`
	Tracking   string `json:"tracking,omitempty"`
}

// Orders are the seeded rows: order i has id i.
var Orders = func() []Order {
	statuses := []string{"processing", "shipped", "delivered", "shipped"}
	var out []Order
	for i := 1; i <= 20; i++ {
		o := Order{ID: i, Customer: fmt.Sprintf("c-%03d", 100+i), SKU: fmt.Sprintf("SKU-%04d", 7000+i%7),
			Status: statuses[i%len(statuses)], TotalCents: 1500 + 250*i}
		if o.Status != "processing" {
			o.Tracking = fmt.Sprintf("1Z%08dUS", 4400000+i)
		}
		out = append(out, o)
	}
	return out
}()

// OpenOrders creates the orders database on the server of adminDSN (the
// test PostgreSQL: scripts/testpg.sh start), seeds it untraced, and
// returns a pool traced by otelpgx through tp, with a cleanup that drops
// the database.
func OpenOrders(ctx context.Context, adminDSN string, tp *sdktrace.TracerProvider) (*pgxpool.Pool, func(), error) {
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", adminDSN, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName); err != nil {
		return nil, nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		return nil, nil, err
	}
	drop := func() {
		if c, err := pgx.Connect(context.Background(), adminDSN); err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
			c.Close(context.Background())
		}
	}
	cfg, err := pgxpool.ParseConfig(adminDSN)
	if err != nil {
		return nil, nil, err
	}
	cfg.ConnConfig.Database = dbName
	seed, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		drop()
		return nil, nil, err
	}
	defer seed.Close(ctx)
	if _, err := seed.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL,
		sku text NOT NULL, status text NOT NULL, total_cents int NOT NULL, tracking text)`); err != nil {
		drop()
		return nil, nil, err
	}
	for _, o := range Orders {
		if _, err := seed.Exec(ctx, "INSERT INTO orders VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))",
			o.ID, o.Customer, o.SKU, o.Status, o.TotalCents, o.Tracking); err != nil {
			drop()
			return nil, nil, err
		}
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithDisableConnectionDetailsInAttributes())
	cfg.MinConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		drop()
		return nil, nil, err
	}
	// Connect before the first run, so no run holds the connection's spans.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		drop()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); drop() }, nil
}

// LoadOrder reads one order; id is the path segment as the client sent it.
func LoadOrder(ctx context.Context, db *pgxpool.Pool, id string) (Order, error) {
	var o Order
	var tracking *string
	err := db.QueryRow(ctx, "SELECT id, customer, sku, status, total_cents, tracking FROM orders WHERE id = $1", id).
		Scan(&o.ID, &o.Customer, &o.SKU, &o.Status, &o.TotalCents, &tracking)
	if tracking != nil {
		o.Tracking = *tracking
	}
	return o, err
}

// Serve runs h on a loopback port until ctx ends; it returns the base URL.
func Serve(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + ln.Addr().String(), nil
}

// Traced wraps a service's routes in otelhttp's server handler.
func Traced(mux *http.ServeMux, tp *sdktrace.TracerProvider, service string) http.Handler {
	return otelhttp.NewHandler(mux, service, otelhttp.WithTracerProvider(tp))
}

// Client is an HTTP client whose requests are otelhttp client spans of tp.
func Client(tp *sdktrace.TracerProvider) *http.Client {
	return &http.Client{Timeout: 10 * time.Second,
		Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tp))}
}
