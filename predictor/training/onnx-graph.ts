// A tiny builder for ONNX graphs, serialized with onnx-proto. It knows only the
// few operators the price-direction models use.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
export const OPSET = 17;

type Attribute = { name: string; i?: number; f?: number; t?: Tensor };

/** Builds an ONNX graph node by node, with initializers, and serializes the model. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly initializers: Tensor[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  /** A float32 initializer. Values are stored little-endian as raw bytes, exactly as given. */
  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values as ArrayLike<number>);
    if (data.length !== dims.reduce((a, b) => a * b, 1))
      throw new Error(`initializer ${name}: ${data.length} values for dims ${dims}`);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  }

  int64s(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  }

  /** Adds a node and returns the name of its (single) output. */
  op(opType: string, inputs: string[], attributes: Attribute[] = [], output?: string): string {
    const out = output ?? `${opType.toLowerCase()}_${this.counter++}`;
    const attribute = attributes.map((a) => {
      if (a.t)
        return onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.TENSOR, t: a.t });
      if (a.f !== undefined)
        return onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.f });
      return onnx.AttributeProto.create({ name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.i ?? 0 });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: out, attribute }));
    return out;
  }

  /** A float32 scalar tensor, for attributes such as ConstantOfShape's value. */
  static scalarTensor(value: number): Tensor {
    return onnx.TensorProto.create({ dims: [1], dataType: FLOAT, floatData: [value] });
  }

  encode(spec: {
    input: string;
    width: number;
    outputs: { name: string; type: 'float' | 'int64' }[];
    doc: string;
  }): Uint8Array {
    const valueInfo = (name: string, elemType: number, shape: (number | string)[]) =>
      onnx.ValueInfoProto.create({
        name,
        type: {
          tensorType: {
            elemType,
            shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
          },
        },
      });
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: [valueInfo(spec.input, FLOAT, ['batch', spec.width])],
      output: spec.outputs.map((o) => valueInfo(o.name, o.type === 'float' ? FLOAT : INT64, ['batch'])),
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'weir-trainer',
      producerVersion: '1',
      docString: spec.doc,
      opsetImport: [{ domain: '', version: OPSET }],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
