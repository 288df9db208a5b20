// Command go-orders-api records an ordinary web service's telemetry, what a
// user sends once OTEL_EXPORTER_OTLP_ENDPOINT points at the collector:
// GET /api/orders/{id} (otelhttp server span) reads the order from
// PostgreSQL (pgx + otelpgx) and asks the inventory service for stock
// (otelhttp client span, and inventory's own server span in the same
// trace). 20 requests, one run each; 4 fail with 500: two ids that are no
// numbers (PostgreSQL refuses the query) and two orders whose warehouse is
// down (inventory answers 503). No AI convention anywhere.
//
//	test/sdks/record.sh go-orders-api   (ARGUS_TEST_POSTGRES_DSN, or the test PostgreSQL)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/arguslabs/argus-otel/test/sdks/gocapture"
	"github.com/arguslabs/argus-otel/test/sdks/goshop"
)

// downSKU is stocked in the warehouse that is down: inventory answers 503.
const downSKU = "SKU-7003"

func main() {
	ctx := context.Background()
	recs, db, cleanup, err := goshop.Start(ctx, "orders-api", "inventory")
	if err != nil {
		log.Fatal(err)
	}
	orders, inventory := recs[0], recs[1]
	defer cleanup()

	stock := http.NewServeMux()
	stock.HandleFunc("GET /api/stock/{sku}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("sku") == downSKU {
			http.Error(w, "warehouse eu-2 unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sku": r.PathValue("sku"), "available": 12})
	})
	inventorySrv := httptest.NewServer(goshop.Traced(stock, inventory, "inventory"))
	defer inventorySrv.Close()
	api := &ordersAPI{db: db, client: goshop.Client(orders), inventory: inventorySrv.URL}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders/{id}", api.get)
	ordersSrv := httptest.NewServer(goshop.Traced(mux, orders, "orders-api"))
	defer ordersSrv.Close()

	// 16 good ids, two that are no numbers, two orders of the down SKU.
	ids := []string{"1", "2", "4", "5", "6", "8", "9", "11", "12", "13", "15", "16", "18", "19", "20", "7",
		"A-17", "3", "10-b", "17"}
	failed := 0
	for i, id := range ids {
		err := orders.Record(ctx, fmt.Sprintf("request_%02d", i+1), func() {
			resp, err := http.Get(ordersSrv.URL + "/api/orders/" + id) // the caller is not traced
			if err != nil {
				log.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusInternalServerError {
				failed++
			}
			if err := inventory.ForceFlush(ctx); err != nil {
				log.Fatal(err)
			}
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	for _, rec := range []*gocapture.Recorder{orders, inventory} {
		if err := rec.Shutdown(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if failed != 4 {
		log.Fatalf("%d requests failed with 500, want 4", failed)
	}
	fmt.Printf("recorded %d requests, %d failed with 500\n", len(ids), failed)
}

type ordersAPI struct {
	db        *pgxpool.Pool
	client    *http.Client
	inventory string
}

func (a *ordersAPI) get(w http.ResponseWriter, r *http.Request) {
	o, err := goshop.LoadOrder(r.Context(), a.db, r.PathValue("id"))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, a.inventory+"/api/stock/"+o.SKU, nil)
	resp, err := a.client.Do(req)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "inventory: " + err.Error()})
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "inventory: " + resp.Status})
		return
	}
	var stock map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&stock)
	writeJSON(w, http.StatusOK, map[string]any{"order": o, "stock": stock})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
