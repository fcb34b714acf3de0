"""The seed-style peer for `make bench`: the serving stack the seeds describe
(FastAPI + uvicorn + scikit-learn), speaking weir-predictor's infer route.

It trains scikit-learn's LogisticRegression at start on the rows the benchmark
writes (features and labels, JSON), then answers
POST /v2/models/{name}/infer with the same Open Inference Protocol v2 body:
one probability and one label per row. One uvicorn worker, access log off, so
the comparison is with the stack and not with its logging.

    python3 seed_server.py TRAINING.json PORT
"""
import json
import sys
import uuid
from typing import List, Optional

import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression

training_path, port = sys.argv[1], int(sys.argv[2])
with open(training_path) as f:
    training = json.load(f)
model = LogisticRegression(max_iter=1000)
model.fit(np.array(training["features"], dtype=np.float32), np.array(training["labels"]))
WIDTH = len(training["features"][0])

app = FastAPI()


class InputTensor(BaseModel):
    name: str
    shape: List[int]
    datatype: str
    data: List[float]


class InferRequest(BaseModel):
    id: Optional[str] = None
    inputs: List[InputTensor]


@app.post("/v2/models/{name}/infer")
def infer(name: str, request: InferRequest):
    tensor = request.inputs[0]
    if tensor.datatype != "FP32" or len(tensor.data) % WIDTH != 0:
        raise HTTPException(status_code=400, detail=f"expected FP32 rows of {WIDTH} features")
    rows = np.array(tensor.data, dtype=np.float32).reshape(-1, WIDTH)
    probability = model.predict_proba(rows)[:, 1]
    label = (probability >= 0.5).astype(np.int64)
    return {
        "model_name": name,
        "model_version": "v1",
        "id": request.id or str(uuid.uuid4()),
        "outputs": [
            {"name": "probability", "datatype": "FP32", "shape": [len(rows)], "data": probability.tolist()},
            {"name": "label", "datatype": "INT64", "shape": [len(rows)], "data": label.tolist()},
        ],
    }


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


if __name__ == "__main__":
    print(port, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
