//go:build linux

package ble

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"tinygo.org/x/bluetooth"
)

// Connect scans with the host's default adapter for the target and connects to it.
func Connect(ctx context.Context, t Target) (Link, error) {
	if t.Timeout <= 0 {
		t.Timeout = 15 * time.Second
	}
	svc, err := bluetooth.ParseUUID(t.Service)
	if err != nil {
		return nil, fmt.Errorf("ble: service %q: %w", t.Service, err)
	}
	a := bluetooth.DefaultAdapter
	if err := a.Enable(); err != nil {
		return nil, fmt.Errorf("ble: no usable Bluetooth adapter (is bluetoothd running and the adapter powered on?): %w", err)
	}
	found := make(chan bluetooth.ScanResult, 1)
	scanErr := make(chan error, 1)
	go func() {
		scanErr <- a.Scan(func(a *bluetooth.Adapter, r bluetooth.ScanResult) {
			if matches(r, svc, t) {
				select {
				case found <- r:
				default:
				}
				a.StopScan()
			}
		})
	}()
	var r bluetooth.ScanResult
	timer := time.NewTimer(t.Timeout)
	defer timer.Stop()
	select {
	case r = <-found:
	case err := <-scanErr:
		return nil, fmt.Errorf("ble: scan: %w", err)
	case <-timer.C:
		a.StopScan()
		return nil, fmt.Errorf("ble: no device matching %q found in %v: is it switched on, charged, near, and not connected to another program?", describe(t), t.Timeout)
	case <-ctx.Done():
		a.StopScan()
		return nil, ctx.Err()
	}
	dev, err := a.Connect(r.Address, bluetooth.ConnectionParams{})
	if err != nil {
		return nil, fmt.Errorf("ble: connect %s (%s): %w", r.Address.String(), r.LocalName(), err)
	}
	svcs, err := dev.DiscoverServices([]bluetooth.UUID{svc})
	if err != nil || len(svcs) == 0 {
		dev.Disconnect()
		return nil, fmt.Errorf("ble: %s has no service %s: %v", r.LocalName(), t.Service, err)
	}
	chars, err := svcs[0].DiscoverCharacteristics(nil)
	if err != nil {
		dev.Disconnect()
		return nil, fmt.Errorf("ble: %s: characteristics: %w", r.LocalName(), err)
	}
	l := &link{dev: dev, chars: map[string]*bluetooth.DeviceCharacteristic{}}
	for i := range chars {
		l.chars[strings.ToLower(chars[i].UUID().String())] = &chars[i]
	}
	return l, nil
}

func describe(t Target) string {
	if t.Match != "" {
		return t.Match
	}
	return t.NamePrefix + "*"
}

func matches(r bluetooth.ScanResult, svc bluetooth.UUID, t Target) bool {
	name := r.LocalName()
	if t.Match != "" {
		return strings.EqualFold(r.Address.String(), t.Match) || strings.HasPrefix(name, t.Match)
	}
	return r.HasServiceUUID(svc) || t.NamePrefix != "" && strings.HasPrefix(name, t.NamePrefix)
}

type link struct {
	mu    sync.Mutex
	dev   bluetooth.Device
	chars map[string]*bluetooth.DeviceCharacteristic
}

func (l *link) char(uuid string) (*bluetooth.DeviceCharacteristic, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.chars[strings.ToLower(uuid)]
	if !ok {
		return nil, fmt.Errorf("ble: the device has no characteristic %s", uuid)
	}
	return c, nil
}

func (l *link) Subscribe(uuid string, fn func([]byte)) error {
	c, err := l.char(uuid)
	if err != nil {
		return err
	}
	return c.EnableNotifications(fn)
}

func (l *link) Write(uuid string, b []byte) error {
	c, err := l.char(uuid)
	if err != nil {
		return err
	}
	_, err = c.WriteWithoutResponse(b)
	return err
}

func (l *link) Close() error { return errors.Join(l.dev.Disconnect()) }
