"""昆山人才科创政策问答助手: policy clauses in, cited answers out."""
__version__ = "0.1.0"
