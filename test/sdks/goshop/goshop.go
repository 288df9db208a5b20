// Package goshop is what the two Go web recordings (go-orders-api,
// go-agent-http) share: their start (recorders of ../gocapture), the orders
// database on a real PostgreSQL behind pgx with the otelpgx tracer, and
// otelhttp on the services' servers and clients.
package goshop

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/arguslabs/argus-otel/test/sdks/gocapture"
)

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

// Orders are the seeded rows: order i has id i, SKU-700(i%7), and a
// tracking number unless it is still processing (every fourth).
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

// Start is how both recordings begin: a capture recorder per service
// (its service.name), and the orders database on the server of
// ARGUS_TEST_POSTGRES_DSN, traced by the first service. cleanup drops it.
func Start(ctx context.Context, services ...string) ([]*gocapture.Recorder, *pgxpool.Pool, func(), error) {
	dsn := os.Getenv("ARGUS_TEST_POSTGRES_DSN")
	if dsn == "" {
		return nil, nil, nil, fmt.Errorf("ARGUS_TEST_POSTGRES_DSN is not set: run this through test/sdks/record.sh")
	}
	recs := make([]*gocapture.Recorder, len(services))
	for i, name := range services {
		var err error
		if recs[i], err = gocapture.New(ctx, resource.NewSchemaless(attribute.String("service.name", name))); err != nil {
			return nil, nil, nil, err
		}
	}
	db, cleanup, err := OpenOrders(ctx, dsn, recs[0])
	return recs, db, cleanup, err
}

// OpenOrders creates the orders database on the server of adminDSN (the
// test PostgreSQL: scripts/testpg.sh start), seeds it untraced, and
// returns a pool traced by otelpgx through tp, with a cleanup that drops
// the database.
func OpenOrders(ctx context.Context, adminDSN string, tp trace.TracerProvider) (*pgxpool.Pool, func(), error) {
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", adminDSN, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)"); err != nil {
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
	pool, err := openSeeded(ctx, adminDSN, tp)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); drop() }, nil
}

func openSeeded(ctx context.Context, adminDSN string, tp trace.TracerProvider) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(adminDSN)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.Database = dbName
	seed, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	defer seed.Close(ctx)
	if _, err := seed.Exec(ctx, `CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL,
		sku text NOT NULL, status text NOT NULL, total_cents int NOT NULL, tracking text)`); err != nil {
		return nil, err
	}
	for _, o := range Orders {
		if _, err := seed.Exec(ctx, "INSERT INTO orders VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))",
			o.ID, o.Customer, o.SKU, o.Status, o.TotalCents, o.Tracking); err != nil {
			return nil, err
		}
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithDisableConnectionDetailsInAttributes())
	cfg.MinConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Connect before the first run, so no run holds the connection's spans.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
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

// Traced wraps a service's routes in otelhttp's server handler; W3C trace
// context joins a traced caller's trace.
func Traced(mux *http.ServeMux, tp trace.TracerProvider, service string) http.Handler {
	return otelhttp.NewHandler(mux, service, otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}))
}

// Client is an HTTP client whose requests are otelhttp client spans of tp.
func Client(tp trace.TracerProvider) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport,
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{}))}
}
