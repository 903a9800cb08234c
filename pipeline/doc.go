// Package pipeline wires neurostream together: Sources emit frames, a chain of Stages processes each
// stream's frames in place and emits features and predictions, and Sinks publish the results.
//
// The same chain runs fused (a source and all stages in one process, for the lowest latency) or
// distributed: each Processor reads a frame topic as a member of a consumer group, so adding
// processes and partitions scales it out. A YAML file (see configs/) describes sources, pipelines and
// where their outputs go.
package pipeline
