package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// fetchShort GETs url and returns its status and body, cut to max bytes.
func fetchShort(ctx context.Context, hc *http.Client, url string, max int) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err.Error()
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Sprintf("%d, body unreadable: %v", resp.StatusCode, err)
	}
	body := strings.TrimSpace(string(b))
	if len(body) > max {
		body = fmt.Sprintf("%s... (%d bytes)", body[:max], len(b))
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

func submitTask(ctx context.Context, hc *http.Client, base string, d doc) (string, error) {
	body, _ := json.Marshal(submitRequest{Content: d.content, MaxSentences: d.max})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/summarize", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	var sr submitResponse
	if err := decode(resp, http.StatusAccepted, &sr); err != nil {
		return "", err
	}
	return sr.TaskID, nil
}

func submitBatch(ctx context.Context, hc *http.Client, base string, docs []doc) (*batchResponse, int, error) {
	var br batchRequest
	for _, d := range docs {
		br.Tasks = append(br.Tasks, submitRequest{Content: d.content, MaxSentences: d.max})
	}
	body, _ := json.Marshal(br)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/summarize/batch", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	code := resp.StatusCode
	want := http.StatusAccepted
	if code == http.StatusServiceUnavailable {
		want = code // a partial batch still carries its report
	}
	var out batchResponse
	if err := decode(resp, want, &out); err != nil {
		return nil, code, err
	}
	if len(out.TaskIDs) != len(docs) || len(out.Status) != len(docs) {
		return nil, code, fmt.Errorf("batch answer has %d ids for %d tasks", len(out.TaskIDs), len(docs))
	}
	return &out, code, nil
}

func getTask(ctx context.Context, hc *http.Client, base, id string) (*taskResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/tasks/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	var tr taskResponse
	if err := decode(resp, http.StatusOK, &tr); err != nil {
		return nil, err
	}
	return &tr, nil
}

// decode reads and closes resp's body, and unmarshals it into v when the
// status is want.
func decode(resp *http.Response, want int, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

// parallel runs f(0..n-1) on at most width goroutines and waits for all.
func parallel(n, width int, f func(int)) {
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				f(i)
			}
		}()
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
}
