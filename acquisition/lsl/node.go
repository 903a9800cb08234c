package lsl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Node is one element of a stream description: its name, its text and its child elements. LSL
// descriptions are plain element trees (no attributes, no mixed content), and queries address them
// by element paths, so this is all the XML the protocol needs.
type Node struct {
	Name     string
	Text     string
	Children []*Node
}

// Limits on descriptions read from the network: a stream with thousands of channels has a
// description of a few hundred KB; anything far beyond that is garbage or hostile.
const (
	maxInfoBytes = 16 << 20
	maxXMLDepth  = 64
	maxXMLNodes  = 1 << 20
)

// Child returns the first child element with the given name, or nil.
func (n *Node) Child(name string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Value returns the text of the first child with the given name ("" if there is none).
func (n *Node) Value(name string) string {
	if c := n.Child(name); c != nil {
		return c.Text
	}
	return ""
}

// Append adds a child element with the given text and returns it.
func (n *Node) Append(name, text string) *Node {
	c := &Node{Name: name, Text: text}
	n.Children = append(n.Children, c)
	return c
}

// clone returns a deep copy.
func (n *Node) clone() *Node {
	if n == nil {
		return nil
	}
	c := &Node{Name: n.Name, Text: n.Text, Children: make([]*Node, len(n.Children))}
	for i, ch := range n.Children {
		c.Children[i] = ch.clone()
	}
	return c
}

// parseXML reads one element tree. Text of elements with children is dropped (it is only
// indentation in what liblsl writes).
func parseXML(data []byte) (*Node, error) {
	if len(data) > maxInfoBytes {
		return nil, fmt.Errorf("stream description of %d bytes is larger than the %d-byte limit", len(data), maxInfoBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*Node
	var root *Node
	nodes := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("stream description is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("stream description has more than one root element")
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("stream description nests deeper than %d elements", maxXMLDepth)
			}
			if nodes++; nodes > maxXMLNodes {
				return nil, fmt.Errorf("stream description has more than %d elements", maxXMLNodes)
			}
			n := &Node{Name: t.Name.Local}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			if len(n.Children) > 0 {
				n.Text = ""
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				if len(n.Children) == 0 {
					n.Text += string(t)
				}
			}
		}
	}
	if root == nil {
		return nil, errors.New("stream description has no XML element")
	}
	return root, nil
}

// writeXML writes n the way liblsl indents it (tabs, one element per line).
func writeXML(b *strings.Builder, n *Node, depth int) {
	for range depth {
		b.WriteByte('\t')
	}
	b.WriteByte('<')
	b.WriteString(n.Name)
	switch {
	case len(n.Children) > 0:
		b.WriteString(">\n")
		for _, c := range n.Children {
			writeXML(b, c, depth+1)
		}
		for range depth {
			b.WriteByte('\t')
		}
	case n.Text != "":
		b.WriteByte('>')
		xml.EscapeText(escWriter{b}, []byte(n.Text))
	default:
		b.WriteString(" />\n")
		return
	}
	b.WriteString("</")
	b.WriteString(n.Name)
	b.WriteString(">\n")
}

type escWriter struct{ b *strings.Builder }

func (w escWriter) Write(p []byte) (int, error) { return w.b.Write(p) }
