"""User-facing interfaces: the CLI, the Gradio app, the evaluation runner."""
